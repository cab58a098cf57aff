"""Find extractors and writers by name through Python entry points.

Groups: ``lakeforge.extractors`` and ``lakeforge.writers``. LakeForge registers its built-ins
in its own ``pyproject.toml``; the built-ins below are a fallback for source checkouts that were
not installed as a package.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from typing import Any

from lakeforge.errors import LakeForgeError
from lakeforge.runtime.extractors.base import Extractor
from lakeforge.runtime.writers import Writer

BUILTIN_EXTRACTORS = {
    "files": "lakeforge.runtime.extractors.files:FilesExtractor",
    "jdbc": "lakeforge.runtime.extractors.jdbc:JdbcExtractor",
    "rest": "lakeforge.runtime.extractors.rest:RestExtractor",
    "delta": "lakeforge.runtime.extractors.delta:DeltaExtractor",
}
BUILTIN_WRITERS = {"delta": "lakeforge.runtime.writers:DeltaWriter"}
# The extractor a source gets when its ``extractor`` column is empty.
DEFAULT_EXTRACTOR = {
    "csv": "files",
    "json": "files",
    "parquet": "files",
    "jdbc": "jdbc",
    "rest": "rest",
    "delta": "delta",
}


def _load(group: str, name: str, builtins: dict[str, str]) -> Any:
    for point in entry_points(group=group):
        if point.name == name:
            return point.load()
    if name in builtins:
        module, attr = builtins[name].split(":")
        return getattr(import_module(module), attr)
    known = sorted({p.name for p in entry_points(group=group)} | set(builtins))
    kind = group.rsplit(".", 1)[-1][:-1]
    raise LakeForgeError(
        f"no {kind} named {name!r}",
        field=kind,
        fix=f"Use one of {', '.join(known)}, or install the package that provides it.",
    )


def extractor_for(name: str | None, source_format: str) -> Extractor:
    chosen = name or DEFAULT_EXTRACTOR[source_format]
    return _load("lakeforge.extractors", chosen, BUILTIN_EXTRACTORS)()


def writer_for(name: str | None) -> Writer:
    return _load("lakeforge.writers", name or "delta", BUILTIN_WRITERS)()


def available(group: str) -> list[str]:
    builtins = BUILTIN_EXTRACTORS if group.endswith("extractors") else BUILTIN_WRITERS
    return sorted({p.name for p in entry_points(group=group)} | set(builtins))
