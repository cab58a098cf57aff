"""The schema refuses bad metadata itself, and says which field is wrong."""

from __future__ import annotations

import pytest

from lakeforge.metadata import models as m
from lakeforge.metadata.repository import (
    APP_USERS,
    BATCH_RUNS,
    BRONZE_CONFIGS,
    COMPUTE_PROFILES,
    DQ_RULES,
    DQ_RUNS,
    NOTIFICATION_CHANNELS,
    ROLE_BINDINGS,
    SILVER_CONFIGS,
    SOURCE_GROUPS,
    SOURCES,
    ConstraintViolation,
    Repository,
)


@pytest.fixture
def conn(db):
    with db.connection() as connection:
        yield connection


@pytest.fixture
def group(conn) -> m.SourceGroup:
    profile = Repository(conn, COMPUTE_PROFILES).get(name="single_node")
    assert profile.id is not None
    return Repository(conn, SOURCE_GROUPS).insert(m.SourceGroup(name="sales", compute_profile_id=profile.id))


@pytest.fixture
def orders(conn, group) -> m.Source:
    return Repository(conn, SOURCES).insert(
        m.Source(name="orders", source_group_id=group.id, format="csv", location="/Volumes/main/raw/orders")
    )


def _count(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]


def test_seeded_default_profile_is_single_node(conn):
    profile = Repository(conn, COMPUTE_PROFILES).get(name="single_node")
    assert profile.kind == "single_node" and profile.num_workers == 0


def test_duplicate_source_name_is_refused_naming_the_field(conn, group, orders):
    with pytest.raises(ConstraintViolation) as refused:
        Repository(conn, SOURCES).insert(
            m.Source(name="orders", source_group_id=group.id, format="json", location="/x")
        )
    assert refused.value.field == "name"
    assert "orders" in refused.value.message
    assert _count(conn, "lakeforge.source") == 1


def test_unknown_dq_action_is_refused_by_the_database(conn, orders):
    rule = m.DqRule.model_construct(
        source_id=orders.id, name="positive", expression="amount > 0", action="explode"
    )
    with pytest.raises(ConstraintViolation) as refused:
        Repository(conn, DQ_RULES).insert(rule)
    assert refused.value.field == "action"
    assert "warn, drop, fail, quarantine" in (refused.value.fix or "")
    assert _count(conn, "lakeforge.dq_rule") == 0


def test_orphan_rule_is_refused(conn):
    with pytest.raises(ConstraintViolation) as refused:
        Repository(conn, DQ_RULES).insert(
            m.DqRule(source_id=987654, name="positive", expression="amount > 0")
        )
    assert refused.value.field == "source_id"
    assert _count(conn, "lakeforge.dq_rule") == 0


def test_group_in_use_cannot_be_deleted(conn, group, orders):
    with pytest.raises(ConstraintViolation) as refused:
        Repository(conn, SOURCE_GROUPS).delete(group.id)
    assert refused.value.field
    assert Repository(conn, SOURCE_GROUPS).find(name="sales") is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format": "xlsx"}, "format"),
        ({"load_mode": "sometimes"}, "load_mode"),
        ({"format": "jdbc", "load_mode": "incremental"}, "watermark_column"),
        ({"name": "Orders Table"}, "name"),
    ],
)
def test_source_checks(conn, group, change, field):
    values = {"name": "items", "source_group_id": group.id, "format": "csv", "location": "/x", **change}
    with pytest.raises(ConstraintViolation) as refused:
        Repository(conn, SOURCES).insert(m.Source.model_construct(**values))
    assert refused.value.field == field
    assert _count(conn, "lakeforge.source") == 0


def test_bronze_and_silver_checks(conn, orders):
    with pytest.raises(ConstraintViolation) as refused:
        Repository(conn, BRONZE_CONFIGS).insert(
            m.BronzeConfig.model_construct(
                source_id=orders.id, target_table="main.b.orders", schema_evolution="yolo"
            )
        )
    assert refused.value.field == "schema_evolution"
    with pytest.raises(ConstraintViolation) as refused:
        Repository(conn, SILVER_CONFIGS).insert(
            m.SilverConfig(source_id=orders.id, target_table="main.s.orders", scd_type=2, primary_keys=[])
        )
    assert refused.value.field == "primary_keys"


def test_single_node_profile_has_no_workers(conn):
    with pytest.raises(ConstraintViolation) as refused:
        Repository(conn, COMPUTE_PROFILES).insert(
            m.ComputeProfile(name="tiny", kind="single_node", num_workers=2)
        )
    assert refused.value.field == "num_workers"


def test_webhook_channel_needs_a_secret_reference(conn):
    with pytest.raises(ConstraintViolation) as refused:
        Repository(conn, NOTIFICATION_CHANNELS).insert(
            m.NotificationChannel(name="ops", kind="webhook", webhook_url="https://hooks.example.com/T0/abc")
        )
    assert refused.value.field == "secret"
    channel = Repository(conn, NOTIFICATION_CHANNELS).insert(
        m.NotificationChannel(name="ops", kind="webhook", webhook_url="{{secrets/alerts/ops_webhook}}")
    )
    assert channel.id is not None


def test_role_bindings_are_unique_even_when_global(conn):
    user = Repository(conn, APP_USERS).insert(m.AppUser(name="ana"))
    bindings = Repository(conn, ROLE_BINDINGS)
    bindings.insert(m.RoleBinding(user_id=user.id, role="editor"))
    with pytest.raises(ConstraintViolation):
        bindings.insert(m.RoleBinding(user_id=user.id, role="editor"))
    with pytest.raises(ConstraintViolation) as refused:
        bindings.insert(m.RoleBinding.model_construct(user_id=user.id, role="owner"))
    assert refused.value.field == "role"


def test_run_log_statuses_and_dq_counts_are_checked(conn):
    batch = Repository(conn, BATCH_RUNS).insert(m.BatchRun(group_name="sales"))
    with pytest.raises(ConstraintViolation) as refused:
        Repository(conn, BATCH_RUNS).update(batch.batch_id, status="exploded")
    assert "status" in (refused.value.field or "")
    with pytest.raises(ConstraintViolation):
        Repository(conn, DQ_RUNS).insert(
            m.DqRun(
                batch_id=batch.batch_id,
                rule_name="r",
                table_name="t",
                expression="x > 0",
                action="warn",
                rows_checked=10,
                rows_passed=9,
                rows_failed=3,
                status="failed",
            )
        )


def test_run_monitoring_queries_use_indexes(conn):
    indexes = {
        row["indexname"]
        for row in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'lakeforge_log'")
    }
    assert {"batch_run_group_recent_idx", "batch_run_status_recent_idx", "step_run_batch_idx"} <= indexes
