"""``GET /sources/{name}`` after real embedded-engine batches: the files a files source loaded (from
the file ledger) and, in its last runs, the rows the source itself wrote in each group batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lakeforge.runtime.runner import run_batch
from lakeforge.settings import Settings
from tests.api.api_support import Api
from tests.runtime.helpers import make_source, write_csv


def own_rows(detail: dict[str, Any]) -> list[tuple[int | None, str | None]]:
    """(rows, zone) the source wrote in each of its last runs, newest first."""
    return [(run["source_rows_out"], run["source_rows_zone"]) for run in detail["last_runs"]]


def test_a_files_source_counts_its_loaded_files_and_its_own_rows_per_batch(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    write_csv(landing / "orders" / "day1.csv", ["id", "amount"], [[1, 10], [2, 20], [3, 30]])
    write_csv(landing / "customers" / "all.csv", ["id", "name"], [[1, "ann"], [2, "bob"]])
    make_source(
        api.db,
        "orders",
        group="retail",
        location=str(landing / "orders"),
        load_mode="incremental",
        format_options={"header": True},
        silver={"primary_keys": ["id"]},
    )
    # A full load rereads its one file every batch.
    make_source(
        api.db,
        "customers",
        group="retail",
        location=str(landing / "customers"),
        format_options={"header": True},
        silver={"primary_keys": ["id"]},
    )
    # Bronze only: its own rows are Bronze's.
    write_csv(landing / "clicks" / "c.csv", ["id", "page"], [[1, "home"]])
    make_source(
        api.db, "clicks", group="retail", location=str(landing / "clicks"), format_options={"header": True}
    )
    viewer = api.client("viewer")

    before = viewer.get("/sources/orders").json()
    assert before["files"] == {
        "files": 0,
        "bytes": None,
        "newest_path": None,
        "newest_batch_id": None,
        "newest_loaded_at": None,
    }
    assert before["last_runs"] == []

    first = run_batch(settings, api.db, "retail")
    assert first.status == "succeeded", first.error
    write_csv(landing / "orders" / "day2.csv", ["id", "amount"], [[4, 40]])
    second = run_batch(settings, api.db, "retail")
    assert second.status == "succeeded", second.error

    orders = viewer.get("/sources/orders").json()
    day2 = landing / "orders" / "day2.csv"
    assert orders["files"]["files"] == 2
    assert orders["files"]["bytes"] == day2.stat().st_size + (landing / "orders" / "day1.csv").stat().st_size
    assert orders["files"]["newest_path"] == str(day2)
    assert orders["files"]["newest_batch_id"] == second.batch_id
    assert orders["files"]["newest_loaded_at"] is not None

    # The group batches count every source; each row also says what orders wrote, and where.
    runs = orders["last_runs"]
    assert [run["batch_id"] for run in runs] == [second.batch_id, first.batch_id]
    assert runs[1]["rows_out"] == 3 + 2  # Silver's rows of orders and customers
    assert own_rows(orders) == [(1, "silver"), (3, "silver")]

    customers = viewer.get("/sources/customers").json()
    assert customers["load_mode"] == "full" and customers["files"]["files"] == 1
    assert own_rows(customers) == [(2, "silver"), (2, "silver")]
    clicks = viewer.get("/sources/clicks").json()
    assert own_rows(clicks) == [(1, "bronze"), (1, "bronze")]


def test_only_sources_read_by_the_files_extractor_have_a_files_summary(api: Api) -> None:
    make_source(
        api.db,
        "accounts",
        group="retail",
        format="jdbc",
        location="jdbc:postgresql://127.0.0.1:5432/shop",
        load_mode="incremental",
        watermark_column="updated_at",
        format_options={"dbtable": "public.accounts"},
    )
    make_source(api.db, "events", group="retail", format="delta", location="main.raw.events")
    viewer = api.client("viewer")
    for name in ("accounts", "events"):
        detail = viewer.get(f"/sources/{name}").json()
        assert detail["files"] is None, name
        assert detail["last_runs"] == []
