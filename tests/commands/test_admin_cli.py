"""`lakeforge token create | list | revoke`, `restore` and `export --group` from a terminal,
against a real Postgres."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator

import psycopg
import pytest
import yaml

from lakeforge.commands import access
from lakeforge.metadata.db import Database, open_database
from lakeforge.settings import load_settings
from tests.commands.test_runs_cli import _cli


def _token(database_url, tmp_path, *options):
    made = _cli(database_url, tmp_path, "token", "create", *options)
    assert made.returncode == 0, made.stderr
    assert re.fullmatch(r"lf_[A-Za-z0-9_-]+\n", made.stdout), made.stdout  # the token alone on stdout
    return made.stdout.strip(), made.stderr


def _token_audit(db: Database) -> list[dict]:
    with db.connection() as conn:
        rows = conn.execute(
            "SELECT surface, kind, outcome, intent, message, response::text AS response FROM command_audit "
            "WHERE kind IN ('create_token', 'revoke_token') ORDER BY created_at"
        ).fetchall()
    return [dict(row) for row in rows]


def test_tokens_are_created_with_a_name_and_expiry_listed_without_value_and_revoked(
    database_url, db, tmp_path
):
    ci, said = _token(
        database_url,
        tmp_path,
        "--user",
        "ci",
        "--role",
        "operator",
        "--name",
        "github",
        "--expires-in",
        "90d",
    )
    assert (
        "github" in said and "expires 20" in said and ci[:8] in said
    )  # the expiry and prefix, never the token
    ana, said = _token(database_url, tmp_path, "--user", "ana", "--role", "editor")
    assert "never expires" in said
    with db.connection() as conn:
        stored = conn.execute(
            "SELECT token_prefix, token_hash, expires_at - created_at AS life FROM api_token ORDER BY id"
        ).fetchall()
    assert [row["token_prefix"] for row in stored] == [ci[:8], ana[:8]]
    assert stored[0]["life"].days == 90 and stored[1]["life"] is None
    hashes = [row["token_hash"] for row in stored]

    listed = _cli(database_url, tmp_path, "token", "list", env={"COLUMNS": "250"})
    assert listed.returncode == 0, listed.stderr
    for secret in (ci, ana, *hashes):
        assert secret not in listed.stdout + listed.stderr
    ci_line = next(line for line in listed.stdout.splitlines() if ci[:8] in line)
    assert "github" in ci_line and "operator" in ci_line and "active" in ci_line and "never" in ci_line
    as_json = json.loads(_cli(database_url, tmp_path, "token", "list", "--user", "ana", "--json").stdout)
    assert [(row["prefix"], row["bindings"], row["status"]) for row in as_json] == [
        (ana[:8], ["editor"], "active")
    ]
    assert not {"token", "token_hash"} & set(as_json[0])

    # "lf_" is the start of every token: the error lists the matches instead of picking one.
    ambiguous = _cli(database_url, tmp_path, "token", "revoke", "lf_")
    assert ambiguous.returncode == 2 and "matches 2 tokens" in ambiguous.stderr
    assert ci[:8] in ambiguous.stderr and ana[:8] in ambiguous.stderr
    typo = ci[:7] + ("x" if ci[7] != "x" else "y")
    unknown = _cli(database_url, tmp_path, "token", "revoke", typo)
    assert unknown.returncode == 2 and f"Did you mean '{ci[:8]}'?" in unknown.stderr, unknown.stderr

    revoked = _cli(database_url, tmp_path, "token", "revoke", ci[:8])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
    with pytest.raises(access.AuthenticationFailed):
        access.authenticate_token(db, ci)
    again = _cli(database_url, tmp_path, "token", "revoke", ci[:8])
    assert again.returncode == 0 and "revoked already" in again.stdout
    live = _cli(database_url, tmp_path, "token", "list", "--json").stdout
    assert [row["prefix"] for row in json.loads(live)] == [ana[:8]]
    everything = json.loads(_cli(database_url, tmp_path, "token", "list", "--all", "--json").stdout)
    assert {row["prefix"]: row["status"] for row in everything} == {ci[:8]: "revoked", ana[:8]: "active"}

    # A leaked token pasted whole is found by its hash; a user's tokens go all at once.
    second, _ = _token(database_url, tmp_path, "--user", "ana", "--role", "editor", "--name", "laptop")
    by_value = _cli(database_url, tmp_path, "token", "revoke", second)
    assert by_value.returncode == 0 and second[:8] in by_value.stdout and second not in by_value.stdout
    all_of_ana = _cli(database_url, tmp_path, "token", "revoke", "--user", "ana")
    assert all_of_ana.returncode == 0 and "1 token(s) of ana revoked" in all_of_ana.stdout
    nobody = _cli(database_url, tmp_path, "token", "revoke", "--user", "anna")
    assert nobody.returncode == 2 and "Did you mean 'ana'?" in nobody.stderr

    audit = _token_audit(db)
    assert [(row["kind"], row["surface"], row["outcome"]) for row in audit] == [
        ("create_token", "cli", "applied"),
        ("create_token", "cli", "applied"),
        ("revoke_token", "cli", "applied"),
        ("create_token", "cli", "applied"),
        ("revoke_token", "cli", "applied"),
        ("revoke_token", "cli", "applied"),
    ]
    assert audit[0]["intent"]["prefix"] == ci[:8] and audit[0]["intent"]["expires_at"]
    assert audit[-1]["intent"]["prefixes"] == [ana[:8]]
    with db.connection() as conn:
        hashes += [row["token_hash"] for row in conn.execute("SELECT token_hash FROM api_token").fetchall()]
    text = json.dumps(audit, default=str)
    for secret in (ci, ana, second, *hashes):
        assert secret not in text


def test_token_options_are_checked_before_anything_is_written(database_url, db, tmp_path):
    bad_life = _cli(
        database_url,
        tmp_path,
        "token",
        "create",
        "--user",
        "ci",
        "--role",
        "viewer",
        "--expires-in",
        "3 months",
    )
    assert bad_life.returncode == 2 and "--expires-in" in bad_life.stderr and "90d" in bad_life.stderr
    neither = _cli(database_url, tmp_path, "token", "revoke")
    assert neither.returncode == 2 and "--user" in neither.stderr
    with db.connection() as conn:
        assert conn.execute("SELECT count(*) AS n FROM api_token").fetchone()["n"] == 0
        assert conn.execute("SELECT count(*) AS n FROM app_user").fetchone()["n"] == 0


def _source_row(db: Database, name: str) -> dict:
    from lakeforge.commands import state

    with db.connection() as conn:
        snap = state.load_source(conn, name)
    assert snap is not None
    return snap


def test_restore_plans_asks_and_applies_a_revision_with_audit_and_revision_rows(database_url, db, tmp_path):
    assert _cli(database_url, tmp_path, "apply", "-f", "examples/lakeforge.yaml").returncode == 0
    first = _source_row(db, "orders")
    changed = tmp_path / "changed.yaml"
    exported = _cli(database_url, tmp_path, "export").stdout
    doc = yaml.safe_load(exported)
    orders = next(s for s in doc["groups"][0]["sources"] if s["name"] == "orders")
    orders["description"] = "changed by hand"
    changed.write_text(yaml.safe_dump(doc), encoding="utf-8")
    assert _cli(database_url, tmp_path, "apply", "-f", str(changed)).returncode == 0
    assert _source_row(db, "orders")["description"] == "changed by hand"

    declined = _cli(
        database_url, tmp_path, "restore", "orders", "--revision", "1", env={"COLUMNS": "200"}, input=""
    )
    assert declined.returncode == 1 and "nothing was changed" in declined.stderr  # no answer is a no
    assert "changed by hand" in declined.stdout  # the plan shows what goes
    assert _source_row(db, "orders")["description"] == "changed by hand"

    restored = _cli(database_url, tmp_path, "restore", "orders", "--revision", "1", input="y\n")
    assert restored.returncode == 0, restored.stderr
    assert "restored to revision 1" in restored.stdout
    now = _source_row(db, "orders")
    assert {k: v for k, v in now.items() if k != "revision"} == {
        k: v for k, v in first.items() if k != "revision"
    }
    with db.connection() as conn:
        revision = conn.execute(
            "SELECT r.revision, r.before, r.after, a.kind, a.surface, a.outcome, a.intent "
            "FROM metadata_revision r "
            "JOIN command_audit a ON a.id = r.command_id "
            "WHERE r.entity_type = 'source' AND r.entity_key = 'orders' ORDER BY r.revision DESC LIMIT 1"
        ).fetchone()
    assert revision["revision"] == 3 and (revision["kind"], revision["surface"], revision["outcome"]) == (
        "restore_revision",
        "cli",
        "applied",
    )
    assert revision["before"]["description"] == "changed by hand" and revision["intent"]["revision"] == 1
    history = _cli(database_url, tmp_path, "history", "orders", env={"COLUMNS": "200"})
    assert "cli restore_revision" in history.stdout

    same = _cli(database_url, tmp_path, "restore", "orders", "--revision", "3", "--yes")
    assert same.returncode == 0 and "nothing to restore" in same.stdout
    no_such = _cli(database_url, tmp_path, "restore", "orders", "--revision", "9", "--yes")
    assert (
        no_such.returncode == 2
        and "--revision" in no_such.stderr
        and "lakeforge history orders" in no_such.stderr
    )
    typo = _cli(database_url, tmp_path, "restore", "ordrs", "--revision", "1", "--yes")
    assert typo.returncode == 2 and "Did you mean 'orders'?" in typo.stderr
    assert _source_row(db, "orders")["revision"] == 3


@pytest.fixture
def other_database_url(pg_admin_url: str, template_database: str) -> Iterator[str]:
    """A second fresh database, to apply an exported file where nothing else exists."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template_database}")
    yield psycopg.conninfo.make_conninfo(pg_admin_url, dbname=name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


FINANCE = """
version: 1
compute_profiles:
  - name: big
    kind: job_cluster
    num_workers: 2
systems:
  - name: ledger
    kind: database
groups:
  - name: finance
    compute_profile: big
    notify: {name: finance_alerts, slack_channel_id: C0FINANCE}
    sources:
      - name: invoices
        system: ledger
        format: csv
        location: /data/finance/invoices/
"""


def test_export_of_one_group_applies_on_its_own_and_back_without_changes(
    database_url, other_database_url, db, tmp_path
):
    assert _cli(database_url, tmp_path, "apply", "-f", "examples/lakeforge.yaml").returncode == 0
    (tmp_path / "finance.yaml").write_text(FINANCE, encoding="utf-8")
    assert _cli(database_url, tmp_path, "apply", "-f", str(tmp_path / "finance.yaml")).returncode == 0

    out = tmp_path / "finance-export.yaml"
    exported = _cli(database_url, tmp_path, "export", "--group", "finance", "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert [g["name"] for g in doc["groups"]] == ["finance"]
    assert [s["name"] for s in doc["systems"]] == ["ledger"]  # not retail's shop
    assert [p["name"] for p in doc["compute_profiles"]] == ["big"]
    assert doc["groups"][0]["notify"]["name"] == "finance_alerts"

    # Back into the same store: nothing changes.
    again = _cli(database_url, tmp_path, "apply", "-f", str(out), "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["changes"] == 0, again.stdout
    # Into a store that has nothing: it applies on its own, and exports the same again.
    elsewhere = _cli(other_database_url, tmp_path, "apply", "-f", str(out))
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert _cli(other_database_url, tmp_path, "export", "--group", "finance").stdout == out.read_text(
        encoding="utf-8"
    )
    other_settings = load_settings(database_url=other_database_url, state_dir=tmp_path / "o")
    with open_database(other_settings) as other, other.connection() as conn:
        groups = conn.execute("SELECT name FROM source_group").fetchall()
    assert [row["name"] for row in groups] == ["finance"]

    typo = _cli(database_url, tmp_path, "export", "--group", "finanse")
    assert typo.returncode == 2 and "Did you mean 'finance'?" in typo.stderr
    both = _cli(database_url, tmp_path, "export", "--group", "finance", "--bundle", str(tmp_path / "b"))
    assert both.returncode == 2 and "--group" in both.stderr
