"""Plans: the field-by-field metadata diff a human reads before a change is applied.

>>> diff("source", "orders", {"location": "/a"}, {"location": "/b"})
[{'op': 'update', 'entity': 'source', 'key': 'orders', 'field': 'location', 'before': '/a',
  'after': '/b', 'text': "source orders: location '/a' → '/b'"}]
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from lakeforge import jsoncodec

PlanLine = dict[str, Any]
_IGNORED = {"revision"}


def _named(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(item, dict) and "name" in item for item in items)


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _line(op: str, entity: str, key: str, field: str | None, before: Any, after: Any) -> PlanLine:
    label = f"{entity} {key}"
    if op == "create" and field is None:
        text = f"create {label}"
    elif op == "delete" and field is None:
        text = f"delete {label}"
    elif before is None:
        text = f"{label}: {field} = {_short(after)}"
    elif after is None:
        text = f"{label}: {field} {_short(before)} → (none)"
    else:
        text = f"{label}: {field} {_short(before)} → {_short(after)}"
    return {
        "op": op,
        "entity": entity,
        "key": key,
        "field": field,
        "before": before,
        "after": after,
        "text": text,
    }


def _walk(entity: str, key: str, path: str, before: Any, after: Any, out: list[PlanLine]) -> None:
    if before == after:
        return
    if isinstance(before, dict) and isinstance(after, dict):
        for name in list(before) + [k for k in after if k not in before]:
            if name in _IGNORED and not path:
                continue
            _walk(entity, key, f"{path}.{name}" if path else name, before.get(name), after.get(name), out)
        return
    if _named(before) and _named(after):
        old = {item["name"]: item for item in before}
        new = {item["name"]: item for item in after}
        for name in old.keys() - new.keys():
            out.append(_line("delete", entity, key, f"{path}[{name}]", old[name], None))
        for name, item in new.items():
            if name not in old:
                out.append(_line("create", entity, key, f"{path}[{name}]", None, item))
            else:
                _walk(entity, key, f"{path}[{name}]", old[name], item, out)
        return
    out.append(_line("update", entity, key, path, before, after))


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested sections as dotted fields (silver.primary_keys), so a new entity reads line by line."""
    out: list[tuple[str, Any]] = []
    for name, value in data.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict) and value and not prefix and name not in ("format_options", "connection"):
            out.extend(_flatten(value, f"{path}."))
        else:
            out.append((path, value))
    return out


def diff(
    entity: str, key: str, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[PlanLine]:
    """Plan lines turning ``before`` into ``after`` (None: the entity does not exist)."""
    if before is None and after is None:
        return []
    if before is None:
        assert after is not None
        lines = [_line("create", entity, key, None, None, None)]
        for name, value in _flatten(after):
            if name not in _IGNORED and name != "name" and value not in (None, {}, []):
                lines.append(_line("create", entity, key, name, None, value))
        return lines
    if after is None:
        return [_line("delete", entity, key, None, None, None)]
    out: list[PlanLine] = []
    _walk(entity, key, "", before, after, out)
    return out


def workspace_lines(sync_plan: dict[str, Any]) -> list[PlanLine]:
    """The reconciler's plan (``SyncPlan.to_json()``) as plan lines: one per job or pipeline to
    create, update, adopt, pause or delete, then one per field that differs (live → desired).

    These lines are what a ``sync_jobs`` confirm token is bound to: if the workspace or the
    metadata moves between the plan and its confirmation, the plan differs and the token is refused.
    """
    lines: list[PlanLine] = []
    for change in sync_plan.get("changes", []):
        resource_type, _, key = str(change.get("resource", "")).partition(":")
        op = str(change.get("action", "update"))
        reason = f": {change['reason']}" if change.get("reason") else ""
        lines.append(
            {
                "op": op,
                "entity": resource_type,
                "key": key,
                "field": None,
                "before": change.get("databricks_id"),
                "after": change.get("name"),
                "text": f"{op} {resource_type} {key}{reason}",
                # The spec to be written: a create's plan differs once the metadata behind it does.
                "spec_hash": change.get("spec_hash"),
            }
        )
        lines.extend(
            _line("update", resource_type, key, item.get("path"), item.get("live"), item.get("desired"))
            for item in change.get("diff", [])
        )
        lines.extend(
            {**touches(resource_type, key, f"delete duplicate {duplicate}"), "op": "delete"}
            for duplicate in change.get("duplicates", [])
        )
    return lines


def touches(resource_type: str, key: str, reason: str) -> PlanLine:
    """A plan line naming a Databricks job or pipeline the change will reach on the next sync."""
    return {
        "op": "touch",
        "entity": resource_type,
        "key": key,
        "field": None,
        "before": None,
        "after": None,
        "text": f"{resource_type} {key}: {reason}",
    }


def canonical_hash(value: Any) -> str:
    """A stable hash of JSON-able data (intents and plans), for confirm tokens."""
    return hashlib.sha256(jsoncodec.dumps(value, sort_keys=True, default=str)).hexdigest()
