"""``GET /schedules/preview`` over real HTTP: description and fire times, or the Quartz module's message."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.api.api_support import Api, assert_problem


def test_preview_describes_and_lists_fire_times_in_the_time_zone(api: Api) -> None:
    viewer = api.client("viewer")
    answer = viewer.get(
        "/schedules/preview", params={"quartz_cron": "0 30 2 * * ?", "timezone": "Europe/Paris", "count": 3}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["quartz_cron"] == "0 30 2 * * ?" and body["timezone"] == "Europe/Paris"
    assert "02:30" in body["description"]
    fires = [datetime.fromisoformat(value) for value in body["next_fire_times"]]
    assert len(fires) == 3
    assert all((f.hour, f.minute) == (2, 30) for f in fires)  # wall clock in Paris, with its offset
    assert all(f.utcoffset() in (timedelta(hours=1), timedelta(hours=2)) for f in fires)
    assert fires == sorted(fires) and fires[1] - fires[0] >= timedelta(hours=23)
    assert (
        len(viewer.get("/schedules/preview", params={"quartz_cron": "0 0 * * * ?"}).json()["next_fire_times"])
        == 5
    )


def test_preview_refuses_a_unix_cron_with_the_quartz_spelling_and_nothing_is_saved(api: Api) -> None:
    viewer = api.client("viewer")
    preview = "/schedules/preview"
    body = assert_problem(viewer.get(preview, params={"quartz_cron": "0 2 * * *"}), 422, "quartz_cron")
    assert "try '0 0 2 * * ?'" in body["detail"], body
    assert body["errors"][0]["fix"]
    assert_problem(
        viewer.get("/schedules/preview", params={"quartz_cron": "0 0 2 * * ?", "timezone": "Mars/Olympus"}),
        422,
        "timezone",
    )
    assert_problem(viewer.get(preview, params={"quartz_cron": "0 0 2 * * ?", "count": 0}), 422, "count")
    assert_problem(viewer.get("/schedules/preview"), 422, "quartz_cron")
    assert_problem(api.client(None).get("/schedules/preview", params={"quartz_cron": "0 0 2 * * ?"}), 401)
    assert viewer.get("/schedules").json() == []


def test_a_suggested_spelling_is_always_a_schedule_that_validates(api: Api) -> None:
    viewer = api.client("viewer")
    for wrong, right in (
        ("0 0 2 ? * ?", "0 0 2 * * ?"),  # both days open: the suggestion used to be the input itself
        ("0 0 2 * * *", "0 0 2 * * ?"),
        ("0 0 2 15 * MON", "0 0 2 ? * MON"),
    ):
        body = assert_problem(
            viewer.get("/schedules/preview", params={"quartz_cron": wrong}), 422, "quartz_cron"
        )
        assert f"try '{right}'" in body["detail"], body
        fixed = viewer.get("/schedules/preview", params={"quartz_cron": right})
        assert fixed.status_code == 200, fixed.text
