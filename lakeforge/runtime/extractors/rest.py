"""REST APIs: paged JSON over HTTP with an incremental cursor.

``format_options`` (all optional):

* ``records_path``: dotted path to the list of records in a page (default: the page itself if it
  is a list, else the first of ``data``, ``items``, ``results``, ``records``).
* ``next_path``: dotted path to the next page: a URL to follow, or a token sent back as
  ``cursor_param`` (default ``next``, token parameter ``cursor``).
* ``params``, ``headers``: sent with every request; values may hold secret references.
* ``since_param``: with ``load_mode: incremental`` the highest ``watermark_column`` value of the
  last good batch, minus ``watermark_lookback``, is sent under this name (default ``since``).
  Records the previous batch landed that come back again are skipped by their hash
  (``lookback``); whether the API includes the ``since`` value itself is the API's rule.
* ``max_pages`` (default 10000), ``timeout`` seconds (default 30).

Pages land in Raw as newline-delimited JSON records, one file per page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from lakeforge.errors import LakeForgeError
from lakeforge.runtime.extractors import lookback
from lakeforge.runtime.extractors.base import ExtractContext, ExtractResult, WatermarkUpdate


def _dig(document: Any, path: str | None) -> Any:
    if not path:
        return document
    for part in path.split("."):
        if not isinstance(document, dict):
            return None
        document = document.get(part)
    return document


def _records(page: Any, path: str | None) -> list[dict[str, Any]]:
    if path:
        found = _dig(page, path)
    elif isinstance(page, list):
        found = page
    else:
        found = next(
            (page[k] for k in ("data", "items", "results", "records") if isinstance(page.get(k), list)), None
        )
    if not isinstance(found, list):
        raise LakeForgeError(
            "the response has no list of records",
            field="format_options.records_path",
            fix="Set records_path to the dotted path of the records in a page.",
        )
    return found


class RestExtractor:
    name = "rest"

    def extract(self, ctx: ExtractContext) -> ExtractResult:
        options = ctx.secrets.resolve(dict(ctx.options))
        params: dict[str, Any] = dict(options.get("params", {}))
        headers: dict[str, str] = dict(options.get("headers", {}))
        column = ctx.source.watermark_column
        incremental = ctx.source.load_mode == "incremental" and column is not None
        saved = ctx.watermark if incremental else None
        low = saved.high_value if saved else None
        back = lookback.from_options(ctx.options)
        # State saved before boundary hashes were kept: no look-back this once (nothing to skip by).
        seen = lookback.boundary_of(saved.cursor) if saved else None
        if low is not None:
            params[options.get("since_param", "since")] = low if seen is None else lookback.lowered(low, back)
        high = low
        url: str | None = ctx.source.location
        landed = []
        pages = 0
        values: list[tuple[str, str]] = []  # (watermark value, record hash) of every record read
        skipped = 0
        with httpx.Client(
            timeout=float(options.get("timeout", 30)), headers=headers, follow_redirects=True
        ) as client:
            while url and pages < int(options.get("max_pages", 10000)):
                page = _get(client, url, params, pages)
                records = _records(page, options.get("records_path"))
                pages += 1
                if incremental and column is not None:
                    fresh = []
                    for record in records:
                        value = record.get(column) if isinstance(record, dict) else None
                        if value is None:
                            fresh.append(record)
                            continue
                        digest = lookback.record_hash(record)
                        values.append((str(value), digest))
                        if seen and digest in seen and _sort_key(str(value)) <= _sort_key(str(low)):
                            skipped += 1  # landed by an earlier batch, read again by the look-back
                            continue
                        fresh.append(record)
                    records = fresh
                if records:
                    body = "\n".join(json.dumps(r, separators=(",", ":")) for r in records) + "\n"
                    landed.append(ctx.land_bytes(f"page-{pages:05d}.jsonl", body.encode()))
                nxt = _dig(page, options.get("next_path", "next")) if isinstance(page, dict) else None
                if not nxt:
                    url = None
                elif str(nxt).startswith(("http://", "https://")):
                    url, params = str(nxt), {}
                else:
                    params = {**params, options.get("cursor_param", "cursor"): nxt}
        details: dict[str, Any] = {"pages": pages}
        watermark = None
        if incremental:
            if values:
                top = max((v for v, _ in values), key=_sort_key)
                high = top if high is None or _sort_key(top) > _sort_key(high) else high
            watermark = WatermarkUpdate(
                high_value=high, value_type="text", cursor={lookback.BOUNDARY: _boundary(values, high, back)}
            )
            if seen:
                details["rows_landed_before"] = skipped
        return ExtractResult(raw_format="json", files=landed, watermark=watermark, details=details)


def _get(client: httpx.Client, url: str, params: dict[str, Any], pages: int) -> Any:
    try:
        response = client.get(url, params=params)
        response.raise_for_status()
        return response.json()
    except httpx.HTTPStatusError as error:
        raise LakeForgeError(
            f"the API answered {error.response.status_code} on page {pages + 1}",
            field="location",
            fix="Check the URL, the credentials and the API's limits.",
        ) from None
    except (httpx.HTTPError, json.JSONDecodeError) as error:
        raise LakeForgeError(
            f"cannot read page {pages + 1} ({type(error).__name__}: {error})",
            field="location",
            fix="Check the URL and that the API returns JSON.",
        ) from None


def _boundary(values: list[tuple[str, str]], high: str | None, back: lookback.Lookback) -> list[str]:
    """Hashes of the records the next batch reads again: those in the look-back below ``high``."""
    if high is None:
        return []
    start = _sort_key(lookback.lowered(high, back))
    top = _sort_key(high)
    return sorted({digest for value, digest in values if start <= _sort_key(value) <= top})


def _sort_key(value: str) -> tuple[int, float | str]:
    # Numbers compare as numbers, ISO timestamps as instants (as text, 10:00+02:00 would sort after
    # 09:00Z, which is later, and the saved watermark would skip rows), everything else as text.
    try:
        return (0, float(value))
    except ValueError:
        pass
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        return (2, value)
    return (1, (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).timestamp())
