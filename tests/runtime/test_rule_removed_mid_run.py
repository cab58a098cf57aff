"""A rule removed while a batch runs does not fail the batch: its result is kept, unlinked."""

from __future__ import annotations

from lakeforge.runtime.runlog import RunLog


def test_dq_result_of_a_removed_rule_is_kept(db):
    with db.connection() as conn:
        conn.execute("INSERT INTO lakeforge.source_group (name, compute_profile_id) VALUES ('g', 1)")
        conn.execute(
            "INSERT INTO lakeforge.source (name, source_group_id, format, location) "
            "SELECT 's', id, 'csv', '/x' FROM lakeforge.source_group WHERE name = 'g'"
        )
        rule_id = conn.execute(
            "INSERT INTO lakeforge.dq_rule (source_id, name, expression) "
            "SELECT id, 'r', 'x > 0' FROM lakeforge.source WHERE name = 's' RETURNING id"
        ).fetchone()["id"]
        batch_id = conn.execute(
            "INSERT INTO lakeforge_log.batch_run (group_name, status) "
            "VALUES ('g', 'running') RETURNING batch_id"
        ).fetchone()["batch_id"]
        conn.execute("DELETE FROM lakeforge.dq_rule WHERE id = %s", [rule_id])
    log = RunLog(db, batch_id, group="g")
    log.dq(None, "main.g_silver.s", rule_id, "r", "x > 0", "warn", 10, 2)
    with db.connection() as conn:
        row = conn.execute("SELECT rule_id, rule_name, rows_failed FROM lakeforge_log.dq_run").fetchone()
    assert row == {"rule_id": None, "rule_name": "r", "rows_failed": 2}
