"""A mistyped name is answered with the closest name the caller may see, and a value that does not
fit a pattern is said in words; both keep the field and the fix of every other error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakeforge import suggest
from lakeforge.commands import access
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from tests.commands.conftest import Run, table_contents

SHOW_SOURCE_FIX = "Check the name: list_sources (GET /api/v1/sources) lists them."


# -- the helper ----------------------------------------------------------------------------------
def test_the_helper_suggests_a_close_name_or_keeps_the_fix() -> None:
    assert suggest.closest("ordrs", ["customers", "orders"]) == "orders"
    assert suggest.closest("zzz", ["orders"]) is None
    # The same typo gets the same answer whatever order the names come in.
    assert suggest.closest("order", ["orders", "ordera"]) == suggest.closest("order", ["ordera", "orders"])
    assert suggest.did_you_mean("ordrs", ["orders"], "Fix it.") == "Did you mean 'orders'? Fix it."
    assert suggest.did_you_mean("ordrs", ["orders"]) == "Did you mean 'orders'?"
    assert suggest.did_you_mean("zzz", ["orders"], "Fix it.") == "Fix it."
    assert suggest.did_you_mean("orders", ["orders"], "Fix it.") == "Fix it."  # no self-suggestion
    assert suggest.split_hint("Did you mean 'shop'? Create it.") == ("Did you mean 'shop'? ", "Create it.")
    assert suggest.split_hint("Create it.") == ("", "Create it.")
    assert suggest.split_hint(None) == ("", None)


# -- unknown names through the executor ---------------------------------------------------------
def _rejected(db, intent, principal=None, user="admin_user"):
    """Execute ``intent`` and return its one error, asserting a not_found rejection."""
    result = execute(db, intent, Actor(user=user, surface="api"), principal=principal or _admin())
    assert (result.status, result.reason) == ("rejected", "not_found"), result
    [error] = result.errors
    return error


def _admin() -> access.Principal:
    return access.Principal.local_admin("admin_user")


def test_an_unknown_source_suggests_the_close_name_and_changes_nothing(db, retail) -> None:
    before = table_contents(db)
    error = _rejected(db, {"kind": "update_source", "name": "ordrs", "description": "x"})
    assert error.field == "intent.name" and error.message == "source 'ordrs' does not exist"
    assert error.fix == f"Did you mean 'orders'? {SHOW_SOURCE_FIX}"
    far = _rejected(db, {"kind": "show_source", "name": "invoices"})
    assert far.fix == SHOW_SOURCE_FIX  # nothing close: today's fix, as it was
    assert table_contents(db) == before


def test_unknown_groups_rules_gold_tables_and_shared_names_get_suggestions(db, run: Run, retail) -> None:
    run({"kind": "upsert_system", "name": "shop", "system_kind": "database"})
    run({"kind": "upsert_gold", "group": "retail", "name": "daily_revenue", "sql": "SELECT 1 AS x"})
    run({"kind": "subscribe_channel", "group": "retail", "name": "alerts", "slack_channel_id": "C0123ABCD"})
    before = table_contents(db)
    group = _rejected(db, {"kind": "pause_schedule", "group": "retial"})
    assert (group.field, group.fix) == (
        "intent.group",
        "Did you mean 'retail'? Create it first: create_group name=retial (POST /api/v1/groups).",
    )
    rule = _rejected(db, {"kind": "remove_dq_rule", "source": "orders", "name": "amount_postive"})
    assert rule.field == "intent.name" and rule.fix is not None
    assert rule.fix.startswith(
        "Did you mean 'amount_positive'? See its rules: show_source name=orders (GET /api/v1/sources/orders)."
    )
    gold = _rejected(db, {"kind": "remove_gold", "group": "retail", "name": "daily_revenu"})
    assert gold.fix is not None and gold.fix.startswith("Did you mean 'daily_revenue'?")
    system = _rejected(db, {"kind": "update_source", "name": "orders", "system": "shopp"})
    assert (system.field, system.fix) == (
        "intent.system",
        "Did you mean 'shop'? Create it with upsert_system first.",
    )
    channel = _rejected(db, {"kind": "update_group", "name": "retail", "channel": "alert"})
    assert channel.fix == "Did you mean 'alerts'? Create it with subscribe_channel."
    profile = _rejected(db, {"kind": "update_group", "name": "retail", "compute_profile": "single_nod"})
    assert profile.fix is not None and profile.fix.startswith("Did you mean 'single_node'?")
    assert table_contents(db) == before


def test_a_group_bound_caller_is_only_offered_names_of_its_own_groups(db, run: Run, retail) -> None:
    """Olga operates finance; retail's source orders is close to what she typed, but she has no
    binding on retail, so the answer names nothing of it. Retail's operator hears it."""
    run({"kind": "create_group", "name": "finance"})
    run({"kind": "register_source", "name": "ledger", "group": "finance", "format": "csv", "location": "/x/"})
    olga = access.authenticate_token(db, access.create_token(db, "olga", "operator", group="finance"))
    rita = access.authenticate_token(db, access.create_token(db, "rita", "operator", group="retail"))
    before = table_contents(db)
    mistyped = {"kind": "run_now", "group": "finance", "source": "ordrs"}
    error = _rejected(db, mistyped, olga, "olga")
    assert error.fix == SHOW_SOURCE_FIX and "orders" not in str(error)
    own = _rejected(db, {"kind": "run_now", "group": "finance", "source": "ledgr"}, olga, "olga")
    assert own.fix == f"Did you mean 'ledger'? {SHOW_SOURCE_FIX}"
    # Reads too: her binding is on finance only.
    assert _rejected(db, {"kind": "show_source", "name": "ordrs"}, olga, "olga").fix == SHOW_SOURCE_FIX
    assert _rejected(db, {"kind": "show_group", "name": "retai"}, olga, "olga").fix == (
        "Create it first: create_group name=retai (POST /api/v1/groups)."
    )
    heard = _rejected(db, {"kind": "run_now", "group": "retail", "source": "ordrs"}, rita, "rita")
    assert heard.fix == f"Did you mean 'orders'? {SHOW_SOURCE_FIX}"
    # A caller without any binding reads everything but is offered no names.
    stranger = access.Principal(user="stranger")
    assert (
        _rejected(db, {"kind": "show_source", "name": "ordrs"}, stranger, "stranger").fix == SHOW_SOURCE_FIX
    )
    assert table_contents(db) == before


def test_the_scope_of_suggestions_follows_the_role_each_intent_needs() -> None:
    mixed = access.Principal(user="ana", bindings=(("viewer", None), ("editor", "retail")))
    assert mixed.suggestion_groups("show_source") is None  # a global viewer reads every group
    assert mixed.suggestion_groups("update_source") == frozenset({"retail"})
    assert access.Principal(user="x").suggestion_groups("show_source") == frozenset()
    assert access.Principal.local_admin().suggestion_groups("sync_jobs") is None


# -- pattern errors in words ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("intent", "field", "message", "fix_start"),
    [
        (
            {"kind": "subscribe_channel", "group": "retail", "slack_channel_id": "C123"},
            "intent.slack_channel_id",
            "'C123' is not a Slack channel id",
            "Use the Slack channel id",
        ),
        (
            {"kind": "pause_schedule", "group": "Retail"},
            "intent.group",
            "'Retail' is not a LakeForge name: it has upper-case letters",
            "Use lower-case letters",
        ),
        (
            {"kind": "create_group", "name": "retail-eu"},
            "intent.name",
            "'retail-eu' is not a LakeForge name: it has '-', which names cannot hold",
            "Use lower-case letters",
        ),
        (
            {
                "kind": "subscribe_channel",
                "group": "retail",
                "webhook_url": "https://hooks.example.com/T0/abc",
            },
            "intent.webhook_url",
            "is not a secret reference",
            "Store the value in a Databricks secret scope",
        ),
        (
            {"kind": "update_source", "name": "orders", "silver": {"primary_keys": ["order id"]}},
            "intent.silver.primary_keys.0",
            "'order id' is not a plain column name",
            "Use a plain column name",
        ),
    ],
)
def test_pattern_errors_say_what_the_value_is_not(db, intent, field, message, fix_start) -> None:
    result = execute(db, intent, Actor(user="admin_user", surface="api"), principal=_admin())
    assert (result.status, result.reason) == ("rejected", "validation")
    [error] = result.errors
    assert (error.field, error.message) == (field, message)
    assert error.fix is not None and error.fix.startswith(fix_start)
    assert "should match pattern" not in result.message and "hooks.example.com" not in result.message


# -- the command line ----------------------------------------------------------------------------
@pytest.fixture
def cli(settings, monkeypatch) -> Iterator[CliRunner]:
    from lakeforge.settings import get_settings

    monkeypatch.setenv("LAKEFORGE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LAKEFORGE_STATE_DIR", str(settings.state_dir))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_history_of_a_source_that_never_existed_is_an_error_with_a_suggestion(db, run: Run, retail, cli):
    from lakeforge.cli import app

    typo = cli.invoke(app, ["history", "ordrs"])
    assert typo.exit_code == 1, typo.output
    said = " ".join(typo.stderr.split())
    assert "error: source 'ordrs' does not exist and never did. Did you mean 'orders'?" in said
    assert typo.stdout == ""
    unknown = cli.invoke(app, ["history", "zzz_nothing", "--json"])
    assert unknown.exit_code == 1 and "Did you mean" not in unknown.stderr and unknown.stdout == ""
    wrong_entity = cli.invoke(app, ["history", "retail", "--entity", "groups"])
    assert wrong_entity.exit_code == 1 and "Did you mean 'group'?" in wrong_entity.stderr
    # A removed source keeps its history, and history shows it.
    assert run({"kind": "remove_source", "name": "orders"}).status == "applied"
    removed = cli.invoke(app, ["history", "orders"])
    assert removed.exit_code == 0 and "History of source orders" in removed.stdout
    assert cli.invoke(app, ["history", "retail", "--entity", "group"]).exit_code == 0


def test_apply_reports_pattern_errors_and_mistyped_names_in_words(db, run: Run, cli, tmp_path: Path):
    from lakeforge.cli import app

    run({"kind": "upsert_system", "name": "shop", "system_kind": "database"})
    path = tmp_path / "lakeforge.yaml"
    path.write_text(
        """version: 1
groups:
  - name: retail
    notify: {slack_channel_id: C123}
    sources:
      - {name: orders, system: shopp, format: csv, location: /data/orders/}
"""
    )
    result = cli.invoke(app, ["apply", "-f", str(path), "--dry-run"])
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert f"{path}.groups.0.notify.slack_channel_id: 'C123' is not a Slack channel id (line 4)" in said
    assert "Use the Slack channel id (e.g. C0123ABCD" in said and "should match pattern" not in said
    # The suggestion survives the fix being said the way the file says it.
    assert (
        "source system 'shopp' does not exist (line 6). Did you mean 'shop'? Declare it under systems:"
        in said
    )
