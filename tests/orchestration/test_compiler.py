"""The compiler on plain values: no database, no workspace."""

from __future__ import annotations

import json

import pytest

from lakeforge.errors import LakeForgeError
from lakeforge.metadata.models import ComputeProfile, NotificationChannel, Schedule, Source, SourceGroup
from lakeforge.orchestration import compute
from lakeforge.orchestration.compiler import (
    HASH_TAG,
    CompileOptions,
    GroupSnapshot,
    MetadataSnapshot,
    canonical_json,
    compile_state,
    resolve,
    spec_hash,
    with_hash,
)

DEFAULTS = compute.ComputeDefaults(node_type_id="i3.xlarge", wheel_path="/Volumes/main/lf/whl/lakeforge.whl")
OPTIONS = CompileOptions(notebook_dir="/Workspace/lf/notebooks", defaults=DEFAULTS)


def group(name: str, sources: list[str], *, profile: ComputeProfile | None = None, **extra) -> GroupSnapshot:
    g = SourceGroup(id=hash(name) % 1000, name=name, compute_profile_id=1, **extra.pop("group", {}))
    return GroupSnapshot(
        group=g,
        profile=profile or ComputeProfile(id=1, name="single_node"),
        sources=[
            Source(name=s, source_group_id=g.id or 0, format="csv", location=f"/data/{s}") for s in sources
        ],
        **extra,
    )


def resources(state):
    return {(r.resource_type, r.name): r for r in state.resources}


def test_one_job_and_one_pipeline_per_group_plus_the_sync_job():
    state = compile_state(
        MetadataSnapshot([group("sales", ["orders", "customers"]), group("hr", [])]), OPTIONS
    )
    assert state.errors == []
    assert sorted(resources(state)) == [
        ("job", "lakeforge-hr"),
        ("job", "lakeforge-sales"),
        ("job", "lakeforge-sync-jobs"),
        ("pipeline", "lakeforge-hr"),
        ("pipeline", "lakeforge-sales"),
    ]
    job = resources(state)[("job", "lakeforge-sales")].spec
    tasks = {t["task_key"]: t for t in job["tasks"]}
    assert sorted(tasks) == [
        "customers__raw_to_bronze",
        "customers__source_to_raw",
        "orders__raw_to_bronze",
        "orders__source_to_raw",
        "pipeline",
        "pipeline_run_log",
    ]
    assert tasks["orders__raw_to_bronze"]["depends_on"] == [{"task_key": "orders__source_to_raw"}]
    assert (
        tasks["orders__source_to_raw"]["notebook_task"]["notebook_path"]
        == "/Workspace/lf/notebooks/source_to_raw"
    )
    assert tasks["orders__source_to_raw"]["notebook_task"]["base_parameters"] == {
        "group": "sales",
        "source": "orders",
        "job_run_id": "{{job.run_id}}",
        "ends_batch": "false",  # pipeline_run_log ends the run's batch
    }
    assert tasks["orders__source_to_raw"]["libraries"] == [{"whl": "/Volumes/main/lf/whl/lakeforge.whl"}]
    assert {d["task_key"] for d in tasks["pipeline"]["depends_on"]} == {
        "orders__raw_to_bronze",
        "customers__raw_to_bronze",
    }
    assert tasks["pipeline"]["pipeline_task"]["pipeline_id"] == "${pipeline:group.sales}"
    # The pipeline's expectation results reach the run log whatever the update's outcome; after
    # every task, so that it is the last of any run (also one limited to Raw or Bronze tasks).
    run_log = tasks["pipeline_run_log"]
    assert {d["task_key"] for d in run_log["depends_on"]} == set(tasks) - {"pipeline_run_log"}
    assert run_log["run_if"] == "ALL_DONE"
    assert run_log["notebook_task"]["base_parameters"] == {
        "group": "sales",
        "job_run_id": "{{job.run_id}}",
        "pipeline_id": "${pipeline:group.sales}",
        # Read on Databricks: a pipeline in the default publishing mode has no event_log() TVF.
        "event_log_table": "main.sales.lakeforge_event_log",
    }
    pipeline = resources(state)[("pipeline", "lakeforge-sales")].spec
    assert pipeline["event_log"] == {"catalog": "main", "schema": "sales", "name": "lakeforge_event_log"}
    assert "/Workspace/lf/notebooks/pipeline_run_log" in resources(state)[("job", "lakeforge-sales")].paths
    assert job["max_concurrent_runs"] == 1
    assert job["queue"] == {"enabled": True}


def test_single_node_is_the_default_cluster():
    state = compile_state(MetadataSnapshot([group("sales", ["orders"])]), OPTIONS)
    job = resources(state)[("job", "lakeforge-sales")].spec
    cluster = job["job_clusters"][0]["new_cluster"]
    assert cluster["num_workers"] == 0
    assert cluster["spark_conf"] == {
        "spark.databricks.cluster.profile": "singleNode",
        "spark.master": "local[*]",
    }
    assert cluster["custom_tags"] == {"ResourceClass": "SingleNode"}
    assert cluster["spark_version"] == "16.4.x-scala2.12"
    assert all(t.get("job_cluster_key") == "lakeforge" for t in job["tasks"] if "notebook_task" in t)
    pipeline = resources(state)[("pipeline", "lakeforge-sales")].spec
    assert pipeline["clusters"][0]["num_workers"] == 0
    assert pipeline["configuration"]["lakeforge.group"] == "sales"
    assert pipeline["libraries"] == [{"notebook": {"path": "/Workspace/lf/notebooks/pipeline_dlt"}}]
    assert pipeline["catalog"] == "main" and pipeline["schema"] == "sales"
    assert pipeline["development"] is False


def test_autoscale_and_serverless_profiles():
    scaled = ComputeProfile(
        id=2, name="big", kind="job_cluster", autoscale_min_workers=2, autoscale_max_workers=8, policy_id="P1"
    )
    serverless = ComputeProfile(id=3, name="sl", kind="serverless")
    state = compile_state(
        MetadataSnapshot([group("big", ["a"], profile=scaled), group("sl", ["b"], profile=serverless)]),
        OPTIONS,
    )
    big = resources(state)[("job", "lakeforge-big")].spec["job_clusters"][0]["new_cluster"]
    assert big["autoscale"] == {"min_workers": 2, "max_workers": 8}
    assert "num_workers" not in big and big["policy_id"] == "P1"
    sl = resources(state)[("job", "lakeforge-sl")].spec
    assert "job_clusters" not in sl
    assert sl["environments"][0]["spec"]["dependencies"] == ["/Volumes/main/lf/whl/lakeforge.whl"]
    assert all("job_cluster_key" not in t for t in sl["tasks"])
    assert resources(state)[("pipeline", "lakeforge-sl")].spec["serverless"] is True


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        (ComputeProfile(name="p", kind="single_node", num_workers=2), "compute_profile.p.num_workers"),
        (
            ComputeProfile(name="p", kind="job_cluster", autoscale_min_workers=5, autoscale_max_workers=2),
            "compute_profile.p.autoscale_min_workers",
        ),
        (ComputeProfile(name="p", kind="job_cluster", num_workers=0), "compute_profile.p.num_workers"),
        (
            ComputeProfile(name="p", kind="serverless", node_type_id="i3.xlarge"),
            "compute_profile.p.node_type_id",
        ),
    ],
)
def test_invalid_profiles_name_the_field(profile, field):
    with pytest.raises(compute.ComputeProfileError) as error:
        compute.validate(profile, DEFAULTS)
    assert error.value.field == field
    assert error.value.fix


def test_missing_node_type_without_policy_is_refused_but_a_policy_supplies_it():
    bare = compute.ComputeDefaults()
    with pytest.raises(compute.ComputeProfileError, match="node_type_id"):
        compute.validate(ComputeProfile(name="p"), bare)
    compute.validate(ComputeProfile(name="p", policy_id="ABC"), bare)


def test_an_invalid_group_is_reported_and_the_others_still_compile():
    bad = ComputeProfile(id=9, name="bad", kind="job_cluster", num_workers=0)
    state = compile_state(
        MetadataSnapshot([group("ok", ["a"]), group("broken", ["b"], profile=bad)]), OPTIONS
    )
    assert {(e.resource_type, e.key) for e in state.errors} == {
        ("job", "group.broken"),
        ("pipeline", "group.broken"),
    }
    assert "num_workers" in state.errors[0].error.sentence()
    assert ("job", "lakeforge-ok") in resources(state)


def test_schedule_timezone_and_pause_state():
    sched = Schedule(
        source_group_id=1, quartz_cron="0 30 6 ? * MON-FRI", timezone="Europe/Paris", paused=True
    )
    state = compile_state(MetadataSnapshot([group("sales", ["o"], schedule=sched)]), OPTIONS)
    job = resources(state)[("job", "lakeforge-sales")].spec
    assert job["schedule"] == {
        "quartz_cron_expression": "0 30 6 ? * MON-FRI",
        "timezone_id": "Europe/Paris",
        "pause_status": "PAUSED",
    }
    sync = resources(state)[("job", "lakeforge-sync-jobs")].spec
    assert sync["schedule"]["quartz_cron_expression"] == "0 0/15 * * * ?"
    assert sync["max_concurrent_runs"] == 1


def test_an_invalid_schedule_blocks_only_its_group():
    sched = Schedule(source_group_id=1, quartz_cron="0 2 * * *", timezone="UTC")
    state = compile_state(MetadataSnapshot([group("sales", ["o"], schedule=sched), group("hr", [])]), OPTIONS)
    assert {e.key for e in state.errors} == {"group.sales"}
    assert state.errors[0].error.field


def test_tags_and_hash_tag():
    state = compile_state(MetadataSnapshot([group("sales", ["o"])]), OPTIONS)
    for resource in state.resources:
        assert resource.spec["tags"]["lakeforge_managed"] == "true"
        assert resource.spec["tags"]["lakeforge_key"] == resource.key
        tagged = with_hash(resource.spec)
        assert tagged["tags"][HASH_TAG] == resource.spec_hash == spec_hash(tagged)


def test_failure_notifications_only_with_a_channel():
    channel = NotificationChannel(id=1, name="alerts", kind="slack", slack_channel_id="C1")
    with_channel = group("sales", ["o"], channel=channel, group={"owner": "ana@example.com"})
    opts = CompileOptions(defaults=DEFAULTS, notification_destination_id="dest-1")
    job = resources(compile_state(MetadataSnapshot([with_channel]), opts))[("job", "lakeforge-sales")].spec
    assert job["email_notifications"] == {"on_failure": ["ana@example.com"]}
    assert job["webhook_notifications"] == {"on_failure": [{"id": "dest-1"}]}
    plain = resources(compile_state(MetadataSnapshot([group("sales", ["o"])]), opts))[
        ("job", "lakeforge-sales")
    ]
    assert "email_notifications" not in plain.spec and "webhook_notifications" not in plain.spec


def test_hashes_are_stable_and_canonical():
    snap = MetadataSnapshot([group("sales", ["orders", "customers"]), group("hr", ["people"])])
    first = compile_state(snap, OPTIONS)
    again = compile_state(MetadataSnapshot(list(reversed(snap.groups))), OPTIONS)
    assert [r.spec_hash for r in first.resources] == [r.spec_hash for r in again.resources]
    spec = first.resources[0].spec
    assert canonical_json(spec) == canonical_json(json.loads(json.dumps(spec, sort_keys=False)))
    assert len(first.resources[0].spec_hash) == 64


def test_changing_one_source_changes_one_job_hash():
    before = compile_state(MetadataSnapshot([group("sales", ["orders"]), group("hr", ["people"])]), OPTIONS)
    after = compile_state(
        MetadataSnapshot([group("sales", ["orders", "refunds"]), group("hr", ["people"])]), OPTIONS
    )
    changed = [
        (a.resource_type, a.key)
        for a, b in zip(before.resources, after.resources, strict=True)
        if a.spec_hash != b.spec_hash
    ]
    assert changed == [("job", "group.sales")]


def test_disabled_sources_have_no_tasks():
    snap = group("sales", ["orders", "old"])
    snap.sources[1].enabled = False
    job = resources(compile_state(MetadataSnapshot([snap]), OPTIONS))[("job", "lakeforge-sales")].spec
    assert not any(t["task_key"].startswith("old__") for t in job["tasks"])


def test_resolve_swaps_pipeline_placeholders():
    state = compile_state(MetadataSnapshot([group("sales", ["o"])]), OPTIONS)
    job = resources(state)[("job", "lakeforge-sales")].spec
    resolved = resolve(job, {"group.sales": "abc-123"})
    pipeline_task = next(t for t in resolved["tasks"] if t["task_key"] == "pipeline")
    assert pipeline_task["pipeline_task"]["pipeline_id"] == "abc-123"


def test_errors_teach():
    with pytest.raises(LakeForgeError) as error:
        compute.validate(ComputeProfile(name="p", kind="single_node", autoscale_max_workers=3), DEFAULTS)
    assert "job_cluster" in error.value.sentence()
