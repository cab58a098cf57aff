"""The JSON codec used for Postgres json/jsonb values and for plan hashes."""

from __future__ import annotations

import json
import math

import pytest
from psycopg.types.json import Jsonb

from lakeforge import jsoncodec
from lakeforge.commands.plans import canonical_hash


def test_round_trip_and_sorted_keys():
    value = {"b": [1, 2.5, None, True], "a": {"ü": "é"}}
    assert jsoncodec.loads(jsoncodec.dumps(value)) == value
    assert jsoncodec.dumps(value, sort_keys=True).startswith(b'{"a":')


def test_what_orjson_refuses_goes_through_the_standard_library():
    huge = {"n": 2**80, "k": {1: "one"}}
    assert json.loads(jsoncodec.dumps(huge)) == {"n": 2**80, "k": {"1": "one"}}
    with pytest.raises(TypeError):
        jsoncodec.dumps({"x": object()})


def test_nan_is_stored_as_null_since_json_has_no_nan():
    assert jsoncodec.loads(jsoncodec.dumps({"x": math.nan})) == {"x": None}


def test_plan_hash_ignores_key_order_and_survives_odd_values():
    assert canonical_hash({"a": 1, "b": 2}) == canonical_hash({"b": 2, "a": 1})
    assert canonical_hash({"a": 2**70}) != canonical_hash({"a": 2**71})
    assert len(canonical_hash({"when": object()})) == 64  # default=str, never an error


def test_metadata_store_reads_and_writes_json_through_the_codec(db):
    value = {"k": [1, "ü", 2**70]}
    with db.connection() as conn:
        row = conn.execute("SELECT %s::jsonb AS v", [Jsonb(value)]).fetchone()
    assert row["v"] == value
