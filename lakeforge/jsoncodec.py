"""JSON on the hot paths: orjson, and the standard library for the little orjson refuses.

Every command encodes its intent, plan and audit row and decodes metadata rows; the standard
``json`` module spent about a tenth of an API worker's time doing that (measured with py-spy under
``benchmarks/command_latency.py``). orjson encodes the same plan about twenty times faster.

>>> dumps({"b": 1, "a": [1, 2]}, sort_keys=True)
b'{"a":[1,2],"b":1}'
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS
_SORTED = _OPTIONS | orjson.OPT_SORT_KEYS


def dumps(value: Any, *, sort_keys: bool = False, default: Any = None) -> bytes:
    """``value`` as compact UTF-8 JSON. NaN and infinities become ``null``, as JSON has neither.

    Integers beyond 64 bits, which orjson refuses, go through the standard library; so does
    anything ``default`` cannot convert, to raise its usual ``TypeError``.
    """
    try:
        return orjson.dumps(value, default=default, option=_SORTED if sort_keys else _OPTIONS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        text = json.dumps(value, sort_keys=sort_keys, default=default, separators=(",", ":"))
        return text.encode()


loads = orjson.loads
