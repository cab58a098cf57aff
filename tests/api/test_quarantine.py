"""``GET /sources/{name}/quarantine`` over real HTTP, after real batches wrote the Delta table."""

from __future__ import annotations

from pathlib import Path

from lakeforge.runtime.runner import run_batch
from lakeforge.settings import Settings
from tests.api.api_support import GROUP, Api, assert_problem


def _write(folder: Path, name: str, rows: list[tuple[int, int]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("id,amount\n" + "".join(f"{i},{a}\n" for i, a in rows))


def test_quarantined_rows_newest_batch_first_with_failed_rules(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    landing = tmp_path / "landing" / "orders"
    _write(landing, "1.csv", [(1, 10), (2, -5), (3, -7)])
    source = {
        "kind": "register_source",
        "name": "orders",
        "group": "retail",
        "format": "csv",
        "location": str(landing),
        "format_options": {"header": True},
        # CSV columns arrive as text: Silver types them before the rules run.
        "silver": {
            "primary_keys": ["id"],
            "select_expressions": ["CAST(id AS INT) AS id", "CAST(amount AS INT) AS amount"],
        },
        "dq_rules": [
            {"name": "amount_positive", "expression": "amount > 0", "action": "quarantine"},
            {"name": "small_id", "expression": "id < 3", "action": "warn"},
        ],
    }
    for intent in (GROUP, source):
        assert api.command(intent).json()["status"] == "applied"
    viewer = api.client("viewer")

    # Before any run there is nothing to show, and the answer says how to get there.
    missing = assert_problem(viewer.get("/sources/orders/quarantine"), 404, "name")
    assert "quarantine" in missing["errors"][0]["fix"] and "run" in missing["errors"][0]["fix"]
    assert_problem(viewer.get("/sources/ghost/quarantine"), 404, "name")
    typo = assert_problem(viewer.get("/sources/ordrs/quarantine"), 404, "name")
    assert typo["errors"][0]["fix"].startswith("Did you mean 'orders'?"), typo

    first = run_batch(settings, api.db, "retail")
    assert first.status == "succeeded", first.error
    _write(landing, "2.csv", [(4, -1)])
    second = run_batch(settings, api.db, "retail")
    assert second.status == "succeeded", second.error

    answer = viewer.get("/sources/orders/quarantine", params={"limit": 50})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["source"] == "orders" and body["table"].endswith("orders_quarantine")
    assert body["failed_rules_column"] == "_failed_rules"
    assert "_failed_rules" in [column["name"] for column in body["columns"]]
    batches = [row["_batch_id"] for row in body["rows"]]
    assert batches == sorted(batches, reverse=True) and batches[0] == second.batch_id
    assert body["total_rows"] == len(body["rows"]) >= 4
    # Per rule over the whole table: here every row is shown, so the rows themselves add up to it.
    counted: dict[str, int] = {}
    for row in body["rows"]:
        for rule in row["_failed_rules"]:
            counted[rule] = counted.get(rule, 0) + 1
    assert body["by_rule"] == counted and counted["amount_positive"] == body["total_rows"]
    newest = {row["id"]: row["_failed_rules"] for row in body["rows"] if row["_batch_id"] == second.batch_id}
    assert newest[2] == ["amount_positive"]
    assert sorted(newest[3]) == ["amount_positive", "small_id"]
    assert sorted(newest[4]) == ["amount_positive", "small_id"]

    limited = viewer.get("/sources/orders/quarantine", params={"limit": 1}).json()
    assert len(limited["rows"]) == 1 and limited["rows"][0]["_batch_id"] == second.batch_id
    assert_problem(viewer.get("/sources/orders/quarantine", params={"limit": 0}), 422, "limit")
