"""The extractor contract: how data gets from a source into the Raw zone.

An extractor is a class with a ``name`` and one method, ``extract(ctx) -> ExtractResult``. It
lands data in ``ctx.raw_dir`` (this batch's Raw folder) in one of two ways:

* ``ctx.land_file(path)`` copies a source file as is (name, size and SHA-256 recorded);
* ``ctx.land_batches(name, batches)`` writes Arrow record batches as one Parquet file.

It reports what it landed, the format Bronze should read it with, and the incremental state
to commit **only when the batch's Raw zone succeeds** (new files for the file ledger, a new
watermark or cursor). Extractors never touch Delta tables or the run log and run the same way
under both engines (on Spark they run on the driver; Bronze then reads Raw with Spark).

Third-party extractors register an entry point in the group ``lakeforge.extractors``::

    [project.entry-points."lakeforge.extractors"]
    sftp = "my_package.sftp:SftpExtractor"

and a source selects one with its ``extractor`` column (``extractor: sftp``).
See ``docs/extractors.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa
import pyarrow.parquet as pq

from lakeforge.metadata import models
from lakeforge.runtime.config import SourceSpec
from lakeforge.runtime.engine import FileFormat
from lakeforge.runtime.secrets import SecretResolver

MANIFEST = "_lakeforge_manifest.json"


@dataclass(frozen=True)
class LandedFile:
    """One file in Raw: where it came from, where it is, and how to check it."""

    name: str
    path: str
    size: int
    sha256: str
    source_path: str | None = None
    source_mtime: float | None = None
    rows: int | None = None


@dataclass(frozen=True)
class WatermarkUpdate:
    """Incremental state to save when the batch's Raw zone succeeds."""

    high_value: str | None
    value_type: str | None = None
    cursor: dict[str, Any] | None = None


@dataclass
class ExtractResult:
    raw_format: FileFormat
    files: list[LandedFile] = field(default_factory=list)
    # Options Bronze passes to the reader (CSV header, delimiter ...).
    read_options: dict[str, Any] = field(default_factory=dict)
    watermark: WatermarkUpdate | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str, indent=1)

    @classmethod
    def from_json(cls, text: str) -> ExtractResult:
        data = json.loads(text)
        wm = data.pop("watermark", None)
        files = [LandedFile(**f) for f in data.pop("files", [])]
        return cls(files=files, watermark=WatermarkUpdate(**wm) if wm else None, **data)


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass
class ExtractContext:
    """What an extractor gets: the source, this batch's Raw folder, state, and secrets."""

    spec: SourceSpec
    batch_id: int
    raw_dir: Path
    secrets: SecretResolver
    watermark: models.WatermarkState | None
    # (path, size, mtime) of files already ingested by earlier batches.
    ingested_files: set[tuple[str, int, float]] = field(default_factory=set)
    # On a rerun whose Raw was never completed: the files the original batch had taken.
    rerun_files: set[str] = field(default_factory=set)
    # (path, size, sha256) of the same files: a file touched but not changed is not new.
    ingested_digests: set[tuple[str, int, str]] = field(default_factory=set)
    # This batch's Raw landed once and its folder is gone: land exactly what it landed then.
    # Only extractors with ``replays_exactly = True`` are ever asked to.
    replay: bool = False

    @property
    def source(self) -> models.Source:
        return self.spec.source

    @property
    def options(self) -> Mapping[str, Any]:
        return self.spec.source.format_options

    def connection(self) -> dict[str, Any]:
        """The source system's connection options with secret references resolved (never log this)."""
        raw = dict(self.spec.system.connection) if self.spec.system else {}
        raw.update(self.spec.source.format_options.get("connection", {}))
        return dict(self.secrets.resolve(raw))

    def land_file(self, source: Path, name: str | None = None) -> LandedFile:
        target = self.raw_dir / (name or source.name)
        digest = hashlib.sha256()
        # One pass: copy and hash together.
        with open(source, "rb") as src, open(target, "wb") as dst:
            while chunk := src.read(8 << 20):
                digest.update(chunk)
                dst.write(chunk)
        stat = source.stat()
        return LandedFile(
            name=target.name,
            path=str(target),
            size=target.stat().st_size,
            sha256=digest.hexdigest(),
            source_path=str(source),
            source_mtime=stat.st_mtime,
        )

    def land_batches(
        self, name: str, batches: Iterable[pa.RecordBatch], schema: pa.Schema | None = None
    ) -> LandedFile:
        target = self.raw_dir / name
        rows = 0
        writer: pq.ParquetWriter | None = None
        try:
            for batch in batches:
                if writer is None:
                    writer = pq.ParquetWriter(target, schema or batch.schema)
                writer.write_batch(batch)
                rows += batch.num_rows
            if writer is None:
                if schema is None:
                    return LandedFile(name=name, path=str(target), size=0, sha256="", rows=0)
                writer = pq.ParquetWriter(target, schema)
        finally:
            if writer is not None:
                writer.close()
        return LandedFile(
            name=name, path=str(target), size=target.stat().st_size, sha256=file_sha256(target), rows=rows
        )

    def land_bytes(self, name: str, data: bytes) -> LandedFile:
        target = self.raw_dir / name
        target.write_bytes(data)
        return LandedFile(
            name=name, path=str(target), size=len(data), sha256=hashlib.sha256(data).hexdigest()
        )


@runtime_checkable
class Extractor(Protocol):
    """Lands one batch of a source in Raw. Implement ``extract``; raise ``LakeForgeError`` with
    ``field`` and ``fix`` for bad configuration or input, so the run log explains it.

    An extractor that can land a past batch's data again exactly (``ctx.replay``) declares
    ``replays_exactly = True``; without it, a rerun of a batch whose Raw folder is gone is refused.
    """

    name: str

    def extract(self, ctx: ExtractContext) -> ExtractResult: ...


def clear_dir(path: Path) -> None:
    """Empty a batch's Raw folder before (re)landing it, so a retried batch never mixes attempts."""
    if path.exists():
        shutil.rmtree(path)
    os.makedirs(path, exist_ok=True)
