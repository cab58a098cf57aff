"""Access control at the executor: the role matrix, group-scoped bindings and hashed tokens."""

from __future__ import annotations

import pytest

from lakeforge.commands import access, launch
from lakeforge.commands.access import AuthenticationFailed, PermissionDenied, Principal
from lakeforge.commands.envelope import Actor
from lakeforge.commands.executor import execute
from lakeforge.commands.intents import INTENTS_BY_KIND
from tests.commands.samples import MUTATING_SAMPLES


@pytest.fixture
def samples(db, run, retail):
    run({"kind": "upsert_gold", "group": "retail", "name": "old", "sql": "SELECT 1 AS one"})
    with db.connection() as conn:
        batch = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (group_name, status) VALUES ('retail', 'succeeded') "
            "RETURNING batch_id"
        ).fetchone()["batch_id"]
        running = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (group_name, status) VALUES ('retail', 'running') "
            "RETURNING batch_id"
        ).fetchone()["batch_id"]
    return {
        **MUTATING_SAMPLES,
        "rerun_batch": {"kind": "rerun_batch", "batch_id": batch},
        "cancel_run": {"kind": "cancel_run", "batch_id": running},
        "remove_gold": {"kind": "remove_gold", "group": "retail", "name": "old"},
    }


def test_every_intent_has_a_required_role():
    assert set(access.REQUIRED_ROLE) == set(INTENTS_BY_KIND)
    assert access.kinds_for_role("operator") == [
        "show_source",
        "show_group",
        "list_sources",
        "show_quarantine",
        "list_runs",
        "show_run",
        "help",
        "run_now",
        "rerun_batch",
        "cancel_run",
        "pause_schedule",
        "resume_schedule",
    ]
    assert set(access.kinds_for_role("admin")) == set(INTENTS_BY_KIND)


@pytest.mark.parametrize("role", access.ROLES)
def test_role_matrix_for_every_mutating_intent(db, samples, role):
    token = access.create_token(db, f"user_{role}", role)
    principal = access.authenticate_token(db, token)
    actor = Actor(user=principal.user, surface="api")
    for kind, intent in samples.items():
        allowed = kind in access.kinds_for_role(role)
        if allowed:
            # dry_run: the permission check runs in full, nothing is applied, so the cases stay independent.
            result = execute(db, intent, actor, principal=principal, dry_run=True)
            assert result.status == "planned", (kind, role, result.errors)
        else:
            with pytest.raises(PermissionDenied) as denied:
                execute(db, intent, actor, principal=principal, dry_run=True)
            assert access.REQUIRED_ROLE[kind] in str(denied.value), kind


def test_permission_denials_are_audited(db, samples):
    actor = Actor(user="nobody", surface="slack")
    with pytest.raises(PermissionDenied, match="needs the operator role"):
        execute(db, {"kind": "run_now", "group": "retail"}, actor)
    with db.connection() as conn:
        row = conn.execute("SELECT outcome, message FROM command_audit WHERE actor = 'nobody'").fetchone()
    assert row["outcome"] == "rejected" and "operator" in row["message"]


def test_group_bindings_hold_for_that_group_only(db, samples, run):
    run({"kind": "create_group", "name": "finance"})
    token = access.create_token(db, "ana", "editor", group="retail")
    ana = access.authenticate_token(db, token)
    actor = Actor(user="ana", surface="api")
    assert execute(db, samples["update_source"], actor, principal=ana).status == "applied"
    with pytest.raises(PermissionDenied, match="on group finance"):
        execute(db, {"kind": "update_group", "name": "finance", "max_retries": 2}, actor, principal=ana)
    with pytest.raises(PermissionDenied, match="global"):
        execute(db, {"kind": "create_group", "name": "hr"}, actor, principal=ana)
    # Moving a source to a group where the caller has no role is refused too.
    with pytest.raises(PermissionDenied):
        execute(db, {"kind": "update_source", "name": "orders", "group": "finance"}, actor, principal=ana)
    # Without an explicit principal the executor looks the user up itself.
    assert execute(db, {"kind": "pause_schedule", "group": "retail"}, actor).status == "applied"


def test_a_group_bound_caller_hears_why_its_own_groups_command_is_wrong(db, samples, run):
    """Refusals are explained to whoever may act on the group the intent touches, found through the
    source, rule or batch it names; elsewhere, and for a source that does not exist, the answer is
    a 403 (an unknown batch id is the exception: see the next test)."""
    run({"kind": "create_group", "name": "finance"})
    ana = access.authenticate_token(db, access.create_token(db, "ana", "editor", group="retail"))
    actor = Actor(user="ana", surface="api")
    rule = {"kind": "add_dq_rule", "source": "orders", "name": "amount_positive", "expression": "amount > 1"}
    duplicate = execute(db, rule, actor, principal=ana)
    assert duplicate.status == "rejected" and "amount_positive" in duplicate.message
    with db.connection() as conn:
        queued = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (group_name, status) VALUES ('retail', 'queued') "
            "RETURNING batch_id"
        ).fetchone()["batch_id"]
    busy = execute(db, {"kind": "rerun_batch", "batch_id": queued}, actor, principal=ana)
    assert busy.status == "rejected" and "still queued" in busy.message
    with pytest.raises(PermissionDenied):
        missing = {"kind": "update_source", "name": "no_such_source", "description": "x"}
        execute(db, missing, actor, principal=ana)
    with pytest.raises(PermissionDenied, match="on group finance"):
        elsewhere = {"kind": "update_group", "name": "finance", "compute_profile": "missing"}
        execute(db, elsewhere, actor, principal=ana)


@pytest.mark.parametrize("kind", ["rerun_batch", "cancel_run", "show_run"])
def test_a_batch_id_no_batch_has_is_unknown_to_anyone_who_may_act_on_some_group(db, samples, kind):
    """It belongs to no group, so it tells of nothing: a group-bound operator hears it does not
    exist (not_found, naming where valid ids are); a viewer still may not cancel or rerun at all."""
    olga = access.authenticate_token(db, access.create_token(db, "olga", "operator", group="retail"))
    unknown = {"kind": kind, "batch_id": 999999}
    refused = execute(db, unknown, Actor(user="olga", surface="api"), principal=olga)
    assert (refused.status, refused.reason) == ("rejected", "not_found")
    assert refused.errors[0].message == "batch 999999 does not exist"
    assert "GET /api/v1/runs" in (refused.errors[0].fix or "")
    vera = access.authenticate_token(db, access.create_token(db, "vera", "viewer", group="retail"))
    if kind == "show_run":
        assert execute(db, unknown, Actor(user="vera", surface="api"), principal=vera).reason == "not_found"
        return
    with pytest.raises(PermissionDenied, match="needs the operator role on a group or globally"):
        execute(db, unknown, Actor(user="vera", surface="api"), principal=vera)


def test_unknown_and_unmapped_users_may_only_read(db, samples):
    stranger = Actor(user="stranger", surface="slack")
    assert execute(db, {"kind": "help"}, stranger).result["intents"][0]["kind"] == "show_source"
    kinds = {item["kind"] for item in execute(db, {"kind": "help"}, stranger).result["intents"]}
    assert kinds == {
        "show_source",
        "show_group",
        "list_sources",
        "show_quarantine",
        "list_runs",
        "show_run",
        "help",
    }
    assert access.principal_for_slack(db, "U999").bindings == ()
    with db.connection() as conn:
        access.grant(conn, "bob", "operator")
        conn.execute("UPDATE app_user SET slack_user_id = 'U123' WHERE name = 'bob'")
    bob = access.principal_for_slack(db, "U123")
    assert bob.user == "bob" and bob.may("run_now", {"retail"}) and not bob.may("update_source", {"retail"})


def test_tokens_are_stored_hashed_and_can_be_revoked(db, samples):
    token = access.create_token(db, "carol", "viewer")
    assert token.startswith("lf_") and len(token) > 40
    with db.connection() as conn:
        row = conn.execute("SELECT token_hash, token_prefix FROM api_token").fetchone()
    assert row["token_hash"] == access.hash_token(token) and token not in row.values()
    assert row["token_prefix"] == token[:8]
    assert access.authenticate_token(db, token).user == "carol"
    for bad in (None, "", "Bearer x", "lf_not-a-real-token"):
        with pytest.raises(AuthenticationFailed):
            access.authenticate_token(db, bad)
    assert access.revoke_tokens(db, "carol") == 1
    with pytest.raises(AuthenticationFailed):
        access.authenticate_token(db, token)


def test_bad_role_or_group_for_a_token_is_refused(db, samples):
    from lakeforge.errors import LakeForgeError

    with pytest.raises(LakeForgeError, match="role"):
        access.create_token(db, "dan", "superuser")  # type: ignore[arg-type]
    with pytest.raises(LakeForgeError, match="group 'nowhere' does not exist"):
        access.create_token(db, "dan", "editor", group="nowhere")


def test_local_admin_principal_may_do_everything():
    assert Principal.local_admin().allowed_kinds() == list(access.REQUIRED_ROLE)


def test_a_group_bound_caller_lists_every_source_but_reads_only_its_groups_quarantine(db, settings):
    launch.configure(settings)  # the quarantine is read from this test's lakehouse
    admin = access.Principal.local_admin("admin")
    actor = Actor(user="admin", surface="cli")
    for intent in (
        {"kind": "create_group", "name": "retail"},
        {"kind": "create_group", "name": "web"},
        {"kind": "register_source", "name": "orders", "group": "retail", "format": "csv", "location": "/v/o"},
        {"kind": "register_source", "name": "clicks", "group": "web", "format": "json", "location": "/v/c"},
    ):
        assert execute(db, intent, actor, principal=admin).status == "applied"
    vera = access.authenticate_token(db, access.create_token(db, "vera", "viewer", group="retail"))
    as_vera = Actor(user="vera", surface="api")
    # Sources are metadata, which everyone reads (as GET /sources does); quarantined rows are data.
    listed = execute(db, {"kind": "list_sources"}, as_vera, principal=vera).result["sources"]
    assert [s["name"] for s in listed] == ["orders", "clicks"]
    web = execute(db, {"kind": "list_sources", "group": "web"}, as_vera, principal=vera).result["sources"]
    assert [s["name"] for s in web] == ["clicks"]
    everyone = execute(db, {"kind": "list_sources"}, Actor(user="stranger", surface="slack"))
    assert [s["name"] for s in everyone.result["sources"]] == ["orders", "clicks"]  # no binding: all
    mine = execute(db, {"kind": "show_quarantine", "source": "orders"}, as_vera, principal=vera)
    assert mine.status == "applied" and mine.result["quarantine"]["total_rows"] == 0
    for intent in (
        {"kind": "show_quarantine", "source": "clicks"},
        {"kind": "show_quarantine", "source": "ghost"},
    ):
        with pytest.raises(PermissionDenied):
            execute(db, intent, as_vera, principal=vera)
