"""Files (CSV, JSON, Parquet): land each new file in Raw as is.

"New" means not ingested by an earlier successful batch: the file ledger
(``lakeforge_log.file_ledger``) remembers path, size, modification time and SHA-256; a file
whose modification time changed but whose content did not is not new. On Databricks the job's
``source_to_raw`` task runs this same extractor over the volume paths, so the ledger decides there
too (see docs/decisions.md on why not Auto Loader).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from lakeforge.errors import LakeForgeError
from lakeforge.runtime.extractors.base import ExtractContext, ExtractResult, file_sha256

_EXTENSIONS = {
    "csv": (".csv", ".txt", ".csv.gz"),
    "json": (".json", ".jsonl", ".ndjson"),
    "parquet": (".parquet",),
}


def list_files(location: str, fmt: str) -> list[Path]:
    """Files under a folder (recursively), matching a glob, or the one file named."""
    if any(ch in location for ch in "*?["):
        found = [Path(p) for p in glob.glob(location, recursive=True)]
    else:
        path = Path(location)
        if not path.exists():
            if path.is_absolute():
                message, fix = (
                    f"{location} does not exist",
                    "Check the path, or create the folder the files will land in.",
                )
            else:
                # A relative location depends on where the batch runs (a shell, the API, a job): say where.
                message = f"{location} does not exist in {Path.cwd()}, the folder this batch runs in"
                fix = "Give an absolute path (or a /Volumes/ path), or run from the folder it is relative to."
            raise LakeForgeError(message, field="location", fix=fix)
        if path.is_file():
            return [path]
        found = [p for p in path.rglob("*") if p.name.lower().endswith(_EXTENSIONS.get(fmt, ("",)))]
    return sorted(p for p in found if p.is_file() and not p.name.startswith((".", "_")))


def _replayed(ctx: ExtractContext, paths: list[Path]) -> list[Path]:
    """The files the batch took the first time (a file that arrived since is a new batch's)."""
    gone = sorted(ctx.rerun_files - {str(p) for p in paths})
    if gone:
        raise LakeForgeError(
            f"{gone[0]} of batch {ctx.batch_id} is gone, so its Raw files cannot be landed again",
            field="batch_id",
            fix="Restore the file, or use run_now for a new batch.",
        )
    return [p for p in paths if str(p) in ctx.rerun_files]


class FilesExtractor:
    name = "files"
    # The ledger names the files a batch took, so a lost Raw folder can be landed again from them.
    replays_exactly = True

    def extract(self, ctx: ExtractContext) -> ExtractResult:
        fmt = ctx.source.format
        if fmt not in ("csv", "json", "parquet"):
            raise LakeForgeError(
                f"the files extractor reads csv, json or parquet, not {fmt}",
                field="extractor",
                fix="Use the extractor for this format, or leave extractor empty.",
            )
        landed = []
        unchanged = []
        taken_names: set[str] = set()
        seen = {(path, size) for path, size, _ in ctx.ingested_digests}
        paths = list_files(ctx.source.location, fmt)
        if ctx.replay:
            paths = _replayed(ctx, paths)
        for path in paths:
            stat = path.stat()
            key = (str(path), stat.st_size, stat.st_mtime)
            is_new = ctx.source.load_mode == "full" or key not in ctx.ingested_files
            # Same path and size, new modification time: only a file whose content changed is new
            # (a copy or `touch` must not load the same rows twice). Only these files are hashed,
            # so an unchanged folder is never read.
            if (
                is_new
                and ctx.source.load_mode != "full"
                and (str(path), stat.st_size) in seen
                and (str(path), stat.st_size, file_sha256(path)) in ctx.ingested_digests
            ):
                unchanged.append(str(path))
                is_new = False
            if not is_new and str(path) not in ctx.rerun_files:
                continue
            if not os.access(path, os.R_OK):
                raise LakeForgeError(
                    f"cannot read {path} (permission denied)",
                    field="location",
                    fix="Give LakeForge read access to the file.",
                )
            name = path.name
            # Two files with one name in different folders must not overwrite each other in Raw.
            while name in taken_names:
                name = f"{len(taken_names)}_{name}"
            taken_names.add(name)
            landed.append(ctx.land_file(path, name))
        options = {
            k: v
            for k, v in ctx.options.items()
            if k in ("header", "delimiter", "sep", "quote", "escape", "null_value", "nullValue", "multiline")
        }
        details = {"unchanged": unchanged} if unchanged else {}
        return ExtractResult(raw_format=fmt, files=landed, read_options=options, details=details)
