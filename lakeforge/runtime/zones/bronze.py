"""Bronze: Raw files appended to a Delta table with audit columns, under a schema policy.

Audit columns: ``_batch_id``, ``_ingested_at``, ``_source_file``, ``_record_hash`` (MD5 of the
row's values as read) and, under ``rescue``, ``_rescued_data`` (a JSON object of the values that
did not fit the declared types or columns). The batch is written with replace-where on
``_batch_id``, so a rerun replaces exactly its own rows.

Schema policies, against the declared ``schema_ddl`` (else the existing table's columns):

* ``evolve``: new columns are added to the table; declared columns are cast (bad values → null).
* ``freeze``: a new column fails the table with its name; nothing is written.
* ``rescue``: new columns and values that fail their declared type go to ``_rescued_data``.
"""

from __future__ import annotations

from datetime import datetime

from lakeforge.runtime.config import SourceSpec
from lakeforge.runtime.engine import SOURCE_FILE_COLUMN, Frame, TableRef
from lakeforge.runtime.registry import writer_for
from lakeforge.runtime.zones import types
from lakeforge.runtime.zones.common import (
    AUDIT_COLUMNS,
    RunContext,
    TableOutcome,
    ZoneError,
    batch_time,
    lit,
    parse_ddl,
    q,
    sanitized_names,
)
from lakeforge.runtime.zones.raw import read_manifest

_SEP = "\x1f"  # unit separator: cannot appear in ordinary text, so hashes do not collide on joins
_NULL = "\x1e"  # stands for NULL in the hashed text, so NULL and '' hash apart


def bronze_select(
    data_columns: list[tuple[str, str]],
    declared: list[tuple[str, str]],
    existing: list[str] | None,
    policy: str,
    batch_id: int,
    file_names: dict[str, str],
    *,
    table_types: dict[str, str] | None = None,
    casts: dict[str, str] | None = None,
    rescued: set[str] | None = None,
    ingested_at: datetime | None = None,
) -> list[str]:
    """The Spark SQL select list turning read rows (``(read name, clean name)``) into Bronze rows.

    ``table_types`` are the existing table's column types (a column the batch lacks is written as
    a NULL of that type); ``casts`` and ``rescued`` come from :func:`types.reconcile`.
    """
    clean = [c for _, c in data_columns]
    source_of = {c: r for r, c in data_columns}
    expected = [name for name, _ in declared] if declared else (existing or [])
    types = dict(declared)
    casts = casts or {}
    rescued = rescued or set()
    table_types = table_types or {}
    new = [c for c in clean if expected and c not in expected]
    if policy == "freeze" and new:
        raise ZoneError(
            f"column(s) {', '.join(new)} are not in the frozen schema",
            field="schema_evolution",
            fix="Add them to schema_ddl, or set schema_evolution to evolve or rescue.",
        )
    select = []
    rescued_parts = []
    order = expected + [c for c in clean if c not in expected] if expected else clean
    for name in order:
        if name not in clean:
            missing_type = types.get(name) or table_types.get(name) or "STRING"
            select.append(f"CAST(NULL AS {missing_type}) AS {q(name)}")
            continue
        column = q(source_of[name])
        if name in types or name in casts:
            typed = f"CAST({column} AS {types[name]})" if name in types else column
            if name in casts:
                typed = f"CAST({typed} AS {casts[name]})"
            select.append(f"{typed} AS {q(name)}")
            if policy == "rescue" and (name in types or name in rescued):
                rescued_parts.append(
                    f"CASE WHEN {column} IS NOT NULL AND {typed} IS NULL THEN concat({lit(_json_key(name))}, "
                    f"{_json_string(column)}) END"
                )
        elif name in new and policy == "rescue":
            rescued_parts.append(
                f"CASE WHEN {column} IS NOT NULL THEN "
                f"concat({lit(_json_key(name))}, {_json_string(column)}) END"
            )
        else:
            select.append(f"{column} AS {q(name)}")
    if policy == "rescue":
        body = f"concat_ws(',', {', '.join(rescued_parts)})" if rescued_parts else "''"
        select.append(f"nullif(concat('{{', {body}, '}}'), '{{}}') AS {q('_rescued_data')}")
    hashed = ", ".join(f"coalesce(CAST({q(source_of[c])} AS STRING), {lit(_NULL)})" for c in clean)
    base_name = f"regexp_extract({q(SOURCE_FILE_COLUMN)}, '[^/]*$', 0)"
    if file_names:
        cases = " ".join(f"WHEN {lit(raw)} THEN {lit(src)}" for raw, src in file_names.items())
        source_file = f"CASE {base_name} {cases} ELSE {base_name} END"
    else:
        source_file = base_name
    ingested = batch_time(ingested_at)
    select += [
        f"CAST({batch_id} AS BIGINT) AS {q('_batch_id')}",
        f"{ingested} AS {q('_ingested_at')}",
        f"{source_file} AS {q('_source_file')}",
        f"md5(concat_ws({lit(_SEP)}, {hashed})) AS {q('_record_hash')}",
    ]
    return select


def _json_key(name: str) -> str:
    return '"' + name + '":'


def _json_string(column: str) -> str:
    # A JSON string literal of the value: backslashes and quotes escaped.
    value = f"replace(replace(CAST({column} AS STRING), '\\\\', '\\\\\\\\'), '\"', '\\\\\"')"
    return f"concat('\"', {value}, '\"')"


def run_bronze(ctx: RunContext, spec: SourceSpec, table_id: int, table: TableRef) -> TableOutcome:
    batch = ctx.data_batch_id
    engine = ctx.engine
    manifest = read_manifest(ctx, spec, batch)
    policy = spec.bronze.schema_evolution if spec.bronze else "evolve"
    writer = writer_for((spec.bronze.options if spec.bronze else {}).get("writer"))
    replace = f"_batch_id = {batch}"
    files = [f for f in manifest.files if f.size > 0]
    if not files:
        with ctx.log.step(table_id, "write", table=str(table), mode="replace_where") as step:
            deleted = engine.delete(table, replace).rows_deleted
            step.update(rows_in=0, rows_out=0, deleted=deleted)
        return TableOutcome(rows_in=0, rows_out=0, details={"empty": True})
    # The frame is not counted here: on both engines that would read the files twice. Bronze
    # keeps every row it reads (malformed input fails the table), so the rows the write reads
    # from the frame are the rows read; the read and conform steps get them after the write.
    with ctx.log.step(
        table_id, "read", format=manifest.raw_format, files=len(files), bytes=manifest.bytes
    ) as read_step:
        frame = engine.read_files([f.path for f in files], manifest.raw_format, manifest.read_options)
    with ctx.log.step(table_id, "conform", policy=policy) as conform_step:
        read_names = [n for n in engine.schema(frame).names if n != SOURCE_FILE_COLUMN]
        data_columns = list(zip(read_names, sanitized_names(read_names), strict=True))
        declared = parse_ddl(spec.source.schema_ddl)
        existing_schema = engine.table_schema(table)
        existing = [n for n in existing_schema.names if n not in AUDIT_COLUMNS] if existing_schema else None
        file_names = {f.name: f.source_path or f.name for f in files}
        table_types = {
            f.name: name for f in existing_schema or [] if (name := types.spark_name(f.type)) is not None
        }

        def conformed(casts: dict[str, str] | None = None, rescued: set[str] | None = None) -> Frame:
            select = bronze_select(
                data_columns,
                declared,
                existing,
                policy,
                batch,
                file_names,
                table_types=table_types,
                ingested_at=ctx.ingested_at,
                casts=casts,
                rescued=rescued,
            )
            return engine.sql(f"SELECT {', '.join(select)} FROM {q('__lf_input')}", {"__lf_input": frame})

        out = conformed()
        if existing_schema is not None:
            # A column whose type differs from the table's is cast, rescued or refused here,
            # naming the column, rather than failing (or being truncated) inside the write.
            casts, rescued = types.reconcile(
                table, engine.schema(out), existing_schema, policy, {name for name, _ in declared}
            )
            if casts:
                out = conformed(casts=casts, rescued=rescued)
                conform_step["cast"] = casts
        conform_step["renamed"] = {r: c for r, c in data_columns if r != c}
    with ctx.log.step(table_id, "write", table=str(table), mode="replace_where", writer=writer.name) as step:
        result = writer.write(
            engine,
            table,
            out,
            zone="bronze",
            mode="overwrite",
            replace_where=replace,
            merge_schema=policy != "freeze",
        )
        rows_in = result.rows_in if result.rows_in is not None else result.rows_written
        step.update(rows_in=rows_in, rows_out=result.rows_written, version=result.version)
    ctx.log.step_rows([read_step, conform_step], rows_in=rows_in, rows_out=rows_in)
    return TableOutcome(
        rows_in=rows_in, rows_out=result.rows_written, bytes=manifest.bytes, delta_version=result.version
    )
