"""Over HTTP: a mistyped name is a 404 problem naming the field, with "Did you mean" in the fix only
for names the caller may see; a value that breaks a pattern is a 422 said in words."""

from __future__ import annotations

import httpx

from lakeforge.commands.access import create_token
from tests.api.api_support import Api, assert_problem, seed, snapshot

SHOW_SOURCE_FIX = "Check the name: list_sources (GET /api/v1/sources) lists them."


def _error(response: httpx.Response, status: int, field: str) -> dict:
    body = assert_problem(response, status, field)
    [error] = body["errors"]
    assert error["field"] == field, body
    return error


def _as(api: Api, user: str, role: str, group: str) -> httpx.Client:
    token = create_token(api.db, user, role, group=group)
    client = httpx.Client(base_url=api.url + "/api/v1", headers={"Authorization": f"Bearer {token}"})
    api.clients[user] = client  # closed with the others
    return client


def test_an_unknown_source_is_a_404_with_the_close_name_and_changes_nothing(api: Api) -> None:
    seed(api)
    before = snapshot(api.db)
    typo = api.command({"kind": "update_source", "name": "ordrs", "description": "x"})
    error = _error(typo, 404, "intent.name")
    assert error["message"] == "source 'ordrs' does not exist"
    assert error["fix"] == f"Did you mean 'orders'? {SHOW_SOURCE_FIX}"
    far = api.command({"kind": "update_source", "name": "invoices", "description": "x"})
    assert _error(far, 404, "intent.name")["fix"] == SHOW_SOURCE_FIX
    # The resource routes and the read give the same suggestion.
    patched = api.client().patch("/sources/ordrs", json={"description": "x"})
    assert _error(patched, 404, "name")["fix"] == f"Did you mean 'orders'? {SHOW_SOURCE_FIX}"
    read = api.client("viewer").get("/sources/ordrs")
    assert _error(read, 404, "name")["fix"].startswith("Did you mean 'orders'? GET /api/v1/sources")
    assert snapshot(api.db) == before


def test_a_group_bound_operator_is_not_offered_another_groups_source(api: Api) -> None:
    seed(api)  # retail holds orders
    api.command({"kind": "create_group", "name": "finance"})
    ledger = {
        "kind": "register_source",
        "name": "ledger",
        "group": "finance",
        "format": "csv",
        "location": "/x/",
    }
    assert api.command(ledger).status_code == 200
    olga = _as(api, "olga", "operator", "finance")
    before = snapshot(api.db)
    other = olga.post("/groups/finance/run", json={"source": "ordrs"})
    error = _error(other, 404, "source")
    assert error["fix"] == SHOW_SOURCE_FIX and "orders" not in other.text
    own = olga.post("/groups/finance/run", json={"source": "ledgr"})
    assert _error(own, 404, "source")["fix"] == f"Did you mean 'ledger'? {SHOW_SOURCE_FIX}"
    read = olga.get("/sources/ordrs")
    assert "orders" not in read.text and _error(read, 404, "name")["fix"].startswith("GET /api/v1/sources")
    group = olga.get("/groups/retai")
    assert "retail" not in group.text and _error(group, 404, "name")
    assert snapshot(api.db) == before


def test_groups_rules_and_channels_get_suggestions_too(api: Api) -> None:
    seed(api)
    channel = {"slack_channel_id": "C0123ABCD", "group": "retail", "name": "alerts"}
    assert api.client().post("/channels", json=channel).status_code == 200
    before = snapshot(api.db)
    group = api.client().post("/groups/retial/pause")
    assert (
        _error(group, 404, "group")["fix"]
        == "Did you mean 'retail'? Create it first: create_group name=retial (POST /api/v1/groups)."
    )
    rule = api.client().delete("/dq-rules/orders/amount_postive")
    assert _error(rule, 404, "name")["fix"].startswith("Did you mean 'amount_positive'?")
    wired = api.client().patch("/groups/retail", json={"channel": "alert"})
    assert _error(wired, 404, "channel")["fix"] == "Did you mean 'alerts'? Create it with subscribe_channel."
    mistyped_group = api.command({"kind": "show_group", "name": "retial"}, role="viewer")
    assert _error(mistyped_group, 404, "intent.name")["fix"].startswith("Did you mean 'retail'?")
    assert snapshot(api.db) == before


def test_a_pattern_error_says_what_the_value_is_not(api: Api) -> None:
    seed(api)
    before = snapshot(api.db)
    answer = api.command({"kind": "subscribe_channel", "group": "retail", "slack_channel_id": "C123"})
    error = _error(answer, 422, "intent.slack_channel_id")
    assert error["message"] == "'C123' is not a Slack channel id"
    assert error["fix"].startswith("Use the Slack channel id (e.g. C0123ABCD")
    assert "pattern" not in answer.text
    name = api.client().post("/groups", json={"name": "Retail EU"})
    assert (
        _error(name, 422, "name")["message"]
        == "'Retail EU' is not a LakeForge name: it has upper-case letters"
    )
    assert snapshot(api.db) == before
