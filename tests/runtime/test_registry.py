"""Extractors and writers are found through Python entry points, third-party ones included."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lakeforge.errors import LakeForgeError
from lakeforge.runtime.registry import available, extractor_for, writer_for
from lakeforge.runtime.runner import run_batch
from tests.runtime.helpers import make_source, rows

PLUGIN = """
import pyarrow as pa
from lakeforge.runtime.extractors.base import ExtractResult


class Numbers:
    name = "numbers"

    def extract(self, ctx):
        batch = pa.record_batch({"n": pa.array(range(int(ctx.source.location)))})
        return ExtractResult(raw_format="parquet", files=[ctx.land_batches("numbers.parquet", [batch])])
"""


@pytest.fixture
def plugin_on_path(tmp_path: Path, monkeypatch):
    """An installed third-party distribution (a dist-info folder with entry points) on sys.path."""
    (tmp_path / "lf_numbers.py").write_text(PLUGIN)
    info = tmp_path / "lf_numbers-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lf-numbers\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[lakeforge.extractors]\nnumbers = lf_numbers:Numbers\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("lf_numbers", None)


def test_builtins_are_registered_as_entry_points() -> None:
    assert {"files", "jdbc", "rest", "delta"} <= set(available("lakeforge.extractors"))
    assert extractor_for(None, "csv").name == "files"
    assert extractor_for(None, "jdbc").name == "jdbc"
    assert writer_for(None).name == "delta"


def test_unknown_extractor_names_the_choices() -> None:
    with pytest.raises(LakeForgeError, match=r"extractor: no extractor named 'ftp'.*files, jdbc, rest"):
        extractor_for("ftp", "csv")


def test_a_third_party_extractor_runs_end_to_end(settings, db, plugin_on_path) -> None:
    make_source(db, "nums", format="parquet", location="3", extractor="numbers")
    run = run_batch(settings, db, "sales", zones=["raw", "bronze"])
    assert run.status == "succeeded", run.error
    assert rows(settings, "main.sales.nums_bronze", ["n"]) == [(0,), (1,), (2,)]
