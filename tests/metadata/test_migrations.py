"""`lakeforge db migrate`: creates the schema once, is idempotent, and is safe to run concurrently."""

from __future__ import annotations

import json
import threading

import psycopg

from lakeforge.metadata.db import open_database
from lakeforge.metadata.migrate import discover, migrate
from lakeforge.settings import load_settings


def _empty_database(pg_admin_url: str, name: str) -> str:
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return psycopg.conninfo.make_conninfo(pg_admin_url, dbname=name)


def test_migrate_creates_schema_then_changes_nothing(pg_admin_url, tmp_path):
    url = _empty_database(pg_admin_url, "migrate_once")
    with open_database(load_settings(database_url=url, state_dir=tmp_path)) as db:
        first = migrate(db)
        second = migrate(db)
        with db.connection() as conn:
            tables = {
                r["table_name"]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema IN ('lakeforge', 'lakeforge_log')"
                )
            }
    assert first.applied == [m.name for m in discover()]
    assert second.applied == []
    assert "nothing changed" in second.summary()
    assert {"source", "dq_rule", "batch_run", "dq_run", "api_token"} <= tables


def test_the_pool_that_migrated_keeps_its_search_path(pg_admin_url, tmp_path):
    """`lakeforge up` and the demo migrate and then serve on one pool: a migration's own
    `SET search_path` must not stay on the connection it ran on."""
    url = _empty_database(pg_admin_url, "migrate_then_serve")
    with open_database(load_settings(database_url=url, state_dir=tmp_path)) as db:
        migrate(db)
        size = db.pool.get_stats()["pool_size"]
        held = [db.pool.getconn() for _ in range(size)]  # every connection, the migrator's too
        try:
            paths = {conn.execute("SHOW search_path").fetchone()["search_path"] for conn in held}  # type: ignore[index]
        finally:
            for conn in held:
                db.pool.putconn(conn)
    assert paths == {"lakeforge, lakeforge_log, public"}


def test_concurrent_migrations_apply_each_file_once(pg_admin_url, tmp_path):
    url = _empty_database(pg_admin_url, "migrate_concurrent")
    results = []

    def run() -> None:
        with open_database(load_settings(database_url=url, state_dir=tmp_path)) as db:
            results.append(migrate(db))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    applied = sorted(name for result in results for name in result.applied)
    assert applied == sorted(m.name for m in discover())
    with psycopg.connect(url) as conn:
        count = conn.execute("SELECT count(*) FROM public.lakeforge_schema_migration").fetchone()
    assert count == (len(discover()),)


def test_an_edited_applied_migration_is_refused(pg_admin_url, tmp_path):
    from dataclasses import replace

    import pytest

    from lakeforge.errors import MigrationError

    url = _empty_database(pg_admin_url, "migrate_edited")
    with open_database(load_settings(database_url=url, state_dir=tmp_path)) as db:
        migrations = discover()
        migrate(db, migrations)
        edited = [replace(migrations[0], sql=migrations[0].sql + "\n-- edited afterwards\n"), *migrations[1:]]
        with pytest.raises(MigrationError) as refused:
            migrate(db, edited)
    assert migrations[0].name in refused.value.message
    assert "add a new migration" in (refused.value.fix or "")


def test_a_slack_plan_pending_during_the_upgrade_keeps_its_command_and_loses_its_token(
    pg_admin_url, tmp_path
):
    import hashlib
    import uuid

    url = _empty_database(pg_admin_url, "migrate_pending_token")
    migrations = discover()
    before = [m for m in migrations if m.version < 43]
    command_id, pending_id, token = uuid.uuid4(), uuid.uuid4(), "lfc_pending-before-upgrade"
    with open_database(load_settings(database_url=url, state_dir=tmp_path)) as db:
        migrate(db, before)
        with db.connection() as conn:
            conn.execute(
                "INSERT INTO lakeforge.command_audit (id, actor, surface, kind, intent, outcome)"
                " VALUES (%s, 'ana', 'slack', 'pause_schedule', '{}', 'planned')",
                (command_id,),
            )
            conn.execute(
                "INSERT INTO lakeforge.command_confirmation"
                " (token_hash, actor, kind, intent_hash, plan_hash, command_id, expires_at)"
                " VALUES (%s, 'ana', 'pause_schedule', 'i', 'p', %s, now() + interval '10 minutes')",
                (hashlib.sha256(token.encode()).hexdigest(), command_id),
            )
            conn.execute(
                "INSERT INTO lakeforge.slack_pending_command (id, slack_user_id, intent, confirm_token)"
                " VALUES (%s, 'U0ANA', '{}', %s)",
                (pending_id, token),
            )
        migrate(db, migrations)
        with db.connection() as conn:
            row = conn.execute(
                "SELECT to_jsonb(p) AS row, command_id FROM lakeforge.slack_pending_command p"
            ).fetchone()
    assert row["command_id"] == command_id
    assert token not in str(row["row"]) and "confirm_token" not in row["row"]


def test_reruns_of_a_batch_are_found_through_an_index(db):
    """What follows the reruns of batch N (Raw's "did N or a rerun of it land this source?", and
    the foreign key clearing `rerun_of` when N is deleted) reads an index, not the whole run log."""

    def plan(conn, query, *params):
        rows = conn.execute(f"EXPLAIN (FORMAT JSON) {query}", params).fetchone()
        return json.dumps(next(iter(rows.values())))

    with db.connection() as conn:
        conn.execute("SET LOCAL enable_seqscan = off")  # an empty table would be scanned anyway
        conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")  # as the foreign key plans
        either = plan(conn, "SELECT 1 FROM lakeforge_log.batch_run b WHERE b.batch_id = 7 OR b.rerun_of = 7")
        conn.execute("PREPARE reruns (bigint) AS SELECT 1 FROM lakeforge_log.batch_run WHERE rerun_of = $1")
        generic = plan(conn, "EXECUTE reruns(7)")
    assert "batch_run_rerun_of_idx" in either, either
    assert "batch_run_rerun_of_idx" in generic, generic
