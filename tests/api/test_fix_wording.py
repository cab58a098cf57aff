"""Over HTTP: a refused command's fix names the intent (and its route) for REST clients, and the
page or chat console words for the panel; ``fix`` stays a plain string either way."""

from __future__ import annotations

import httpx

from tests.api.api_support import Api, assert_problem, seed, snapshot

PANEL = {"X-LakeForge-Surface": "web"}


def _fix(response: httpx.Response, status: int, field: str) -> str:
    body = assert_problem(response, status, field)
    [error] = body["errors"]
    assert isinstance(error["fix"], str), body  # the contract: a string, rendered before it is sent
    assert error["fix"] in body["detail"], body  # the sentence says the same fix
    return error["fix"]


def _ended_batch(api: Api) -> int:
    with api.db.connection() as conn:
        row = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (group_name, status) VALUES ('retail', 'succeeded')"
            " RETURNING batch_id"
        ).fetchone()
    return int(row["batch_id"])


def test_a_rest_client_reads_the_intent_and_its_route_the_panel_its_page(api: Api) -> None:
    seed(api)
    batch = _ended_batch(api)
    before = snapshot(api.db)
    cancel = {"kind": "cancel_run", "batch_id": batch}
    rest = _fix(api.command(cancel), 409, "intent.batch_id")
    route = f"POST /api/v1/runs/{batch}/rerun"
    assert rest == f"If you need its data, run it again: rerun_batch batch_id={batch} ({route})."
    # The resource route is REST too.
    routed = _fix(api.client().post(f"/runs/{batch}/cancel"), 409, "batch_id")
    assert routed == rest
    panel = api.client().post("/commands", json={"intent": cancel}, headers=PANEL)
    assert _fix(panel, 409, "intent.batch_id") == (
        f"If you need its data, run it again: Rerun on the page of batch {batch} (Runs)."
    )
    assert snapshot(api.db) == before


def test_the_panel_names_the_page_that_does_it_else_the_chat_consoles_words(api: Api) -> None:
    seed(api)
    unscheduled = {"kind": "create_group", "name": "adhoc"}
    assert api.command(unscheduled).status_code == 200
    pause = api.client().post("/groups/adhoc/pause", headers=PANEL)
    assert _fix(pause, 422, "group") == "Set one first: Save schedule for adhoc on the Groups page."
    rest = _fix(api.client().post("/groups/adhoc/pause"), 422, "group")
    assert rest == "Set one first: set_schedule group=adhoc (PUT /api/v1/groups/adhoc/schedule)."
    taken = api.client().post(
        "/commands",
        json={
            "intent": {
                "kind": "register_source",
                "name": "orders",
                "group": "adhoc",
                "format": "csv",
                "location": "/x/",
            }
        },
        headers=PANEL,
    )
    assert _fix(taken, 409, "intent.name") == (
        "Source names are unique across LakeForge: choose another name, or change that source: "
        "Edit on the page of source orders."
    )
    rule = api.client().patch("/dq-rules/orders/amount_postive", json={"action": "fail"}, headers=PANEL)
    assert _fix(rule, 404, "name") == (
        "Did you mean 'amount_positive'? Add it instead: Quality rules on the page of source orders."
    )
    missing = api.client().post(
        "/commands", json={"intent": {"kind": "show_run", "batch_id": 999999}}, headers=PANEL
    )
    assert _fix(missing, 404, "intent.batch_id") == "Find batch ids: the Runs page lists them."
    # No page restores a removed source: the chat console's words, which the parser reads back.
    with api.db.connection() as conn:
        gone = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (group_name, source_name, status)"
            " VALUES ('retail', 'ghost', 'failed') RETURNING batch_id"
        ).fetchone()["batch_id"]
    rerun = api.client().post(
        "/commands", json={"intent": {"kind": "rerun_batch", "batch_id": gone}}, headers=PANEL
    )
    assert _fix(rerun, 422, "intent.batch_id") == (
        "Restore the source with e.g. `restore ghost to revision 3` in the Chat console,"
        " or register it again, then rerun."
    )
