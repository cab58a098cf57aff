"""Quartz schedules fire at their times, in their time zones (real time, generous bounds)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from databricks.sdk import WorkspaceClient
from databricks.sdk.service import jobs

from lakeforge.localworkspace.server import LocalWorkspace


def _periodic_runs(w: WorkspaceClient, job_id: int) -> list[jobs.BaseRun]:
    return [r for r in w.jobs.list_runs(job_id=job_id) if r.trigger == jobs.TriggerType.PERIODIC]


def test_every_few_seconds_fires_close_to_its_quartz_time(
    workspace: LocalWorkspace, w: WorkspaceClient
) -> None:
    every = 3
    job_id = w.jobs.create(
        name="fast",
        schedule=jobs.CronSchedule(quartz_cron_expression=f"*/{every} * * * * ?", timezone_id="Asia/Kolkata"),
        max_concurrent_runs=5,
    ).job_id
    paused = w.jobs.create(
        name="paused",
        schedule=jobs.CronSchedule(
            quartz_cron_expression="* * * * * ?", timezone_id="UTC", pause_status=jobs.PauseStatus.PAUSED
        ),
    ).job_id
    deadline = time.monotonic() + 15
    while len(_periodic_runs(w, job_id)) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    runs = _periodic_runs(w, job_id)
    assert len(runs) >= 2, "the schedule did not fire twice in 15 s"
    for run in runs:
        started = run.start_time / 1000
        due = started - (started % every)  # the fire time this run belongs to
        delay = started - due
        print(f"run {run.run_id}: {delay * 1000:.0f} ms after its fire time")
        assert delay < 2.0
    assert list(w.jobs.list_runs(job_id=paused)) == []
    fired = [entry for entry in workspace.scheduler.fired if entry[0] == job_id]
    assert all((started - due).total_seconds() < 2.0 for _, due, started in fired)


def test_a_wall_clock_time_fires_in_the_schedules_time_zone(w: WorkspaceClient) -> None:
    zone = ZoneInfo("America/New_York")
    target = (datetime.now(UTC) + timedelta(seconds=4)).astimezone(zone).replace(microsecond=0)
    expression = f"{target.second} {target.minute} {target.hour} ? * * {target.year}"
    job_id = w.jobs.create(
        name="once",
        schedule=jobs.CronSchedule(quartz_cron_expression=expression, timezone_id="America/New_York"),
    ).job_id
    deadline = time.monotonic() + 10
    while not _periodic_runs(w, job_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    runs = _periodic_runs(w, job_id)
    assert len(runs) == 1, f"{expression} in America/New_York did not fire"
    delay = runs[0].start_time / 1000 - target.timestamp()
    assert 0 <= delay < 2.0
    assert w.jobs.get_run(runs[0].run_id).schedule.timezone_id == "America/New_York"


def test_schedule_changes_take_effect_at_once(w: WorkspaceClient) -> None:
    job_id = w.jobs.create(
        name="later",
        schedule=jobs.CronSchedule(quartz_cron_expression="0 0 3 * * ?", timezone_id="UTC"),
    ).job_id
    w.jobs.update(
        job_id,
        new_settings=jobs.JobSettings(
            schedule=jobs.CronSchedule(quartz_cron_expression="* * * * * ?", timezone_id="UTC")
        ),
    )
    deadline = time.monotonic() + 5
    while not _periodic_runs(w, job_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _periodic_runs(w, job_id)
    w.jobs.update(job_id, fields_to_remove=["schedule"])
    time.sleep(0.3)
    count = len(_periodic_runs(w, job_id))
    time.sleep(1.5)
    assert len(_periodic_runs(w, job_id)) == count
