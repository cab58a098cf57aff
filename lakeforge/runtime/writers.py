"""The writer contract: how a zone's frame reaches storage.

A writer gets the engine, the target table and the frame (on the embedded engine a lazy
``lakeforge.runtime.embedded.Query``, on Spark a DataFrame) and performs one atomic commit. Frames
are lazy on both engines: pass them to ``engine.write`` to stream them, or call
``engine.to_arrow(frame)`` for a ``pyarrow.Table`` (which holds the whole batch in memory).

The built-in ``delta`` writer uses the engine's Delta primitives. Third parties register entry
points in the group ``lakeforge.writers`` and a source picks one with
``bronze_config.options.writer`` or ``silver_config.options.writer``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from lakeforge.runtime.engine import Engine, Frame, TableRef, WriteMode, WriteResult


@runtime_checkable
class Writer(Protocol):
    name: str

    def write(
        self,
        engine: Engine,
        table: TableRef,
        frame: Frame,
        *,
        zone: str,
        mode: WriteMode,
        replace_where: str | None = None,
        merge_schema: bool = False,
    ) -> WriteResult: ...


class DeltaWriter:
    """Writes through the engine's Delta ``write`` (replace-where keeps batches exactly once)."""

    name = "delta"

    def write(
        self,
        engine: Engine,
        table: TableRef,
        frame: Frame,
        *,
        zone: str,
        mode: WriteMode,
        replace_where: str | None = None,
        merge_schema: bool = False,
    ) -> WriteResult:
        return engine.write(table, frame, mode=mode, replace_where=replace_where, merge_schema=merge_schema)
