"""Start update with a refresh selection: the update keeps and answers it, runs only the selected
sources, and fails on a table the pipeline does not declare, as Databricks does."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import InvalidParameterValue
from databricks.sdk.service import pipelines
from deltalake import DeltaTable

from lakeforge.metadata.db import Database
from lakeforge.runtime.runner import run_batch
from lakeforge.settings import Settings
from tests.localworkspace.pipelines import sales_pipeline
from tests.runtime.helpers import make_source, rows, write_csv

ORDERS = ["main.sales.orders", "main.sales.orders_quarantine"]


@pytest.fixture
def landed(settings: Settings, db: Database, tmp_path: Path) -> int:
    """Group sales: orders (keys, a quarantine rule) and customers, one batch through Silver."""
    write_csv(tmp_path / "orders" / "1.csv", ["id", "amount"], [[1, 5], [2, -7]])
    make_source(
        db,
        "orders",
        location=str(tmp_path / "orders"),
        load_mode="incremental",
        schema_ddl="id INT, amount INT",
        silver={"primary_keys": ["id"]},
        rules=[("non_negative", "amount >= 0", "quarantine")],
    )
    write_csv(tmp_path / "customers" / "1.csv", ["id", "name"], [[1, "ana"]])
    make_source(
        db,
        "customers",
        location=str(tmp_path / "customers"),
        load_mode="incremental",
        schema_ddl="id INT, name STRING",
        silver={"primary_keys": ["id"]},
    )
    batch = run_batch(settings, db, "sales")
    assert batch.status == "succeeded", batch.error
    assert batch.batch_id is not None
    return batch.batch_id


def _ended(w: WorkspaceClient, pipeline_id: str, update_id: str) -> pipelines.UpdateInfo:
    deadline = time.monotonic() + 120
    while True:
        update = w.pipelines.get_update(pipeline_id, update_id).update
        assert update is not None and update.state is not None
        if update.state.value in ("COMPLETED", "FAILED", "CANCELED"):
            return update
        assert time.monotonic() < deadline, f"update {update_id} still {update.state}"
        time.sleep(0.05)


def _version(settings: Settings, name: str) -> int:
    return DeltaTable(str(settings.lakehouse_path.joinpath(*name.split(".")))).version()


def test_an_update_fully_refreshes_only_the_selected_source(
    w: WorkspaceClient, settings: Settings, landed: int
) -> None:
    pipeline_id = sales_pipeline(w)
    before = {name: _version(settings, name) for name in ["main.sales.orders", "main.sales.customers"]}
    silver = rows(settings, "main.sales.orders", ["id", "amount", "_batch_id"])
    quarantined = rows(settings, "main.sales.orders_quarantine", ["id", "_failed_rules", "_batch_id"])

    update_id = w.pipelines.start_update(pipeline_id, full_refresh_selection=ORDERS).update_id
    assert update_id is not None
    update = _ended(w, pipeline_id, update_id)
    assert update.state == pipelines.UpdateInfoState.COMPLETED
    # The update keeps its selection and answers it, as Databricks' GetUpdate does.
    assert update.full_refresh_selection == ORDERS and not update.refresh_selection
    assert not update.full_refresh
    listed = w.pipelines.list_updates(pipeline_id).updates or []
    assert listed[0].full_refresh_selection == ORDERS

    # orders was emptied and rebuilt from Bronze, to the rows it held; customers was not run.
    assert _version(settings, "main.sales.orders") > before["main.sales.orders"]
    history = DeltaTable(str(settings.lakehouse_path / "main/sales/orders")).history()
    assert "DELETE" in {h["operation"] for h in history[:2]}
    assert rows(settings, "main.sales.orders", ["id", "amount", "_batch_id"]) == silver == [(1, 5, landed)]
    assert rows(settings, "main.sales.orders_quarantine", ["id", "_failed_rules", "_batch_id"]) == quarantined
    assert _version(settings, "main.sales.customers") == before["main.sales.customers"]


def test_an_update_selecting_a_table_the_pipeline_lacks_fails(
    w: WorkspaceClient, settings: Settings, landed: int
) -> None:
    pipeline_id = sales_pipeline(w)
    silver = _version(settings, "main.sales.orders")
    update_id = w.pipelines.start_update(
        pipeline_id, full_refresh_selection=["main.sales.orders"], refresh_selection=["main.sales.order"]
    ).update_id
    assert update_id is not None
    update = _ended(w, pipeline_id, update_id)
    assert update.state == pipelines.UpdateInfoState.FAILED
    assert update.refresh_selection == ["main.sales.order"]
    events = [e.message or "" for e in w.pipelines.list_pipeline_events(pipeline_id)]
    failed = next(message for message in events if "FAILED" in message)
    assert "INVALID_REFRESH_SELECTION.TABLE_NOT_FOUND" in failed
    assert "table main.sales.order is not part of the pipeline of group sales" in failed
    # What it does declare: a keyed source quarantines NULL keys, so customers has a quarantine too.
    declared = ["main.sales.customers", "main.sales.customers_quarantine", *ORDERS]
    assert f"Name tables the pipeline declares: {', '.join(declared)}." in failed
    assert _version(settings, "main.sales.orders") == silver  # nothing ran, the valid part neither

    # A selection that is no list of names is refused before any update starts.
    with pytest.raises(InvalidParameterValue, match="refresh_selection must be a list of table names"):
        path = f"/api/2.0/pipelines/{pipeline_id}/updates"
        w.api_client.do("POST", path, body={"refresh_selection": "main.sales.orders"})
