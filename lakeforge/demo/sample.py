"""A small synthetic retail system with deliberate quality problems, in two increments.

Three related CSV feeds land in folders, as an upstream system would drop them:

- ``customers``: exact duplicate rows (removed by dedupe), missing e-mails (a ``warn``
  rule), unknown country codes (a ``quarantine`` rule); increment 2 changes some customers'
  countries (silver keeps history, SCD type 2).
- ``orders``: negative amounts (``quarantine``) and missing customer ids (``drop``);
  increment 2 adds new orders and moves some existing ones to ``shipped`` (SCD type 1).
- ``order_items``: non-positive quantities (``drop``).

Everything is seeded, so the expected counts per zone are known exactly and
``lakeforge demo --check`` can assert them.

>>> manifest = write_increment(Path("/tmp/landing"), increment=1)
>>> manifest.expected["orders"].silver
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

COUNTRIES = ("DE", "FR", "NL", "ES", "IT", "US")
STATUSES = ("placed", "paid", "shipped")
SKUS = tuple(f"SKU-{n:04d}" for n in range(1, 61))
SEED = 20261126


@dataclass(frozen=True)
class FeedCounts:
    """Rows one feed brings in one increment, and what each zone should hold afterwards."""

    landed: int
    bronze_total: int
    silver: int
    quarantined: int = 0
    dropped: int = 0


@dataclass
class Manifest:
    increment: int
    files: dict[str, Path] = field(default_factory=dict)
    expected: dict[str, FeedCounts] = field(default_factory=dict)
    # Rows expected in the gold table revenue_by_country after this increment.
    gold_rows: int = 0


@dataclass
class _World:
    """The upstream system's state, rebuilt deterministically for each increment."""

    customers: dict[int, dict[str, object]] = field(default_factory=dict)
    orders: dict[int, dict[str, object]] = field(default_factory=dict)


def _write(path: Path, header: list[str], rows: list[dict[str, object]], *, write: bool = True) -> Path:
    if not write:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in header})
    return path


def _base_world(
    rng: random.Random,
) -> tuple[_World, list[dict[str, object]], list[dict[str, object]], list[dict[str, object]]]:
    world = _World()
    start = datetime(2026, 11, 1, 8, 0, 0)
    customers = []
    for cid in range(1, 201):
        country = COUNTRIES[cid % len(COUNTRIES)]
        if cid % 50 == 0:
            country = "XX"  # unknown country: quarantined
        row = {
            "customer_id": cid,
            "name": f"Customer {cid:03d}",
            "email": None if cid % 40 == 0 else f"customer{cid}@example.com",
            "country": country,
            "updated_at": (start + timedelta(minutes=cid)).isoformat(sep=" "),
        }
        world.customers[cid] = row
        customers.append(row)
    customers += [dict(customers[i]) for i in (4, 9, 14, 19, 24)]  # exact duplicates: deduped
    orders = []
    for oid in range(1, 1001):
        amount = round(rng.uniform(5, 500), 2)
        if oid % 125 == 0:
            amount = -amount  # negative amount: quarantined
        row = {
            "order_id": oid,
            "customer_id": None if oid % 200 == 7 else rng.randint(1, 200),  # missing customer: dropped
            "order_date": (date(2026, 11, 1) + timedelta(days=oid % 20)).isoformat(),
            "status": STATUSES[oid % 2],
            "amount": f"{amount:.2f}",
            "currency": "EUR",
            "updated_at": (start + timedelta(hours=1, seconds=oid)).isoformat(sep=" "),
        }
        world.orders[oid] = row
        orders.append(row)
    items = []
    for oid in range(1, 1001):
        for line in range(1, 1 + (oid % 3) + 1):
            items.append(
                {
                    "order_id": oid,
                    "line_no": line,
                    "sku": rng.choice(SKUS),
                    "quantity": 0 if (oid * line) % 97 == 0 else rng.randint(1, 5),
                    "unit_price": f"{rng.uniform(1, 100):.2f}",
                }
            )
    return world, customers, orders, items


CUSTOMER_COLUMNS = ["customer_id", "name", "email", "country", "updated_at"]
ORDER_COLUMNS = ["order_id", "customer_id", "order_date", "status", "amount", "currency", "updated_at"]
ITEM_COLUMNS = ["order_id", "line_no", "sku", "quantity", "unit_price"]


def _gold_rows(world: _World) -> int:
    """revenue_by_country: one row per country of customers with at least one clean order."""
    countries = set()
    for order in world.orders.values():
        cid = order["customer_id"]
        if cid is None or float(str(order["amount"])) < 0:
            continue
        country = world.customers[int(str(cid))]["country"]
        if country != "XX":
            countries.add(country)
    return len(countries)


def write_increment(landing: Path, increment: int, *, write: bool = True) -> Manifest:
    """Write increment 1 or 2 of every feed under ``landing/<feed>/`` and say what to expect.

    With ``write=False`` nothing is written: only the expectations are computed.
    """
    if increment not in (1, 2):
        raise ValueError("increment must be 1 or 2")
    rng = random.Random(SEED)  # noqa: S311 - sample data, not security
    world, customers, orders, items = _base_world(rng)
    manifest = Manifest(increment=increment)
    bad_customers = sum(1 for c in world.customers.values() if c["country"] == "XX")
    bad_orders = sum(1 for o in world.orders.values() if float(str(o["amount"])) < 0)
    missing_customer = sum(1 for o in world.orders.values() if o["customer_id"] is None)
    zero_items = sum(1 for i in items if i["quantity"] == 0)
    clean_orders_1 = len(world.orders) - bad_orders - missing_customer
    if increment == 1:
        manifest.files["customers"] = _write(
            landing / "customers" / "customers_0001.csv", CUSTOMER_COLUMNS, customers, write=write
        )
        manifest.files["orders"] = _write(
            landing / "orders" / "orders_0001.csv", ORDER_COLUMNS, orders, write=write
        )
        manifest.files["order_items"] = _write(
            landing / "order_items" / "order_items_0001.csv", ITEM_COLUMNS, items, write=write
        )
        manifest.expected = {
            "customers": FeedCounts(
                len(customers), len(customers), len(world.customers) - bad_customers, bad_customers
            ),
            "orders": FeedCounts(len(orders), len(orders), clean_orders_1, bad_orders, missing_customer),
            "order_items": FeedCounts(len(items), len(items), len(items) - zero_items, 0, zero_items),
        }
        manifest.gold_rows = _gold_rows(world)
        return manifest

    # Increment 2: 20 customers move country (new SCD2 versions), 200 new orders, 100 orders shipped.
    changed = []
    later = datetime(2026, 11, 20, 9, 0, 0)
    for cid in range(3, 201, 10):
        row = dict(world.customers[cid])
        if row["country"] == "XX":
            continue
        row["country"] = COUNTRIES[(COUNTRIES.index(str(row["country"])) + 1) % len(COUNTRIES)]
        row["updated_at"] = (later + timedelta(minutes=cid)).isoformat(sep=" ")
        world.customers[cid] = row
        changed.append(row)
    new_orders = []
    for oid in range(1001, 1201):
        row = {
            "order_id": oid,
            "customer_id": rng.randint(1, 200),
            "order_date": "2026-11-21",
            "status": "placed",
            "amount": f"{rng.uniform(5, 500):.2f}",
            "currency": "EUR",
            "updated_at": (later + timedelta(seconds=oid)).isoformat(sep=" "),
        }
        world.orders[oid] = row
        new_orders.append(row)
    shipped = []
    for oid in range(2, 201, 2):
        row = dict(world.orders[oid])
        if row["customer_id"] is None or float(str(row["amount"])) < 0:
            continue
        row["status"] = "shipped"
        row["updated_at"] = (later + timedelta(hours=2, seconds=oid)).isoformat(sep=" ")
        world.orders[oid] = row
        shipped.append(row)
    manifest.files["customers"] = _write(
        landing / "customers" / "customers_0002.csv", CUSTOMER_COLUMNS, changed, write=write
    )
    manifest.files["orders"] = _write(
        landing / "orders" / "orders_0002.csv", ORDER_COLUMNS, new_orders + shipped, write=write
    )
    base_customers = len(world.customers) - bad_customers
    manifest.expected = {
        # SCD2: every changed customer adds one row (the old version is closed, not removed).
        "customers": FeedCounts(
            len(changed), len(customers) + len(changed), base_customers + len(changed), bad_customers
        ),
        # SCD1: shipped orders are updated in place, new orders are added.
        "orders": FeedCounts(
            len(new_orders) + len(shipped),
            len(orders) + len(new_orders) + len(shipped),
            clean_orders_1 + len(new_orders),
            bad_orders,
            missing_customer,
        ),
        "order_items": FeedCounts(0, len(items), len(items) - zero_items, 0, zero_items),
    }
    manifest.gold_rows = _gold_rows(world)
    return manifest
