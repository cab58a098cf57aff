"""Close spellings: the one way LakeForge guesses what a mistyped name meant.

Used for unknown names in commands ("source 'ordrs' does not exist. Did you mean 'orders'?"),
unknown keys in ``lakeforge.yaml`` and unknown query parameters, and by the chat parser to
correct keywords. Callers pass only names the reader may see; this module never looks any up.

>>> closest("ordrs", ["orders", "customers"])
'orders'
>>> did_you_mean("ordrs", ["orders"], "Check the name with show_source.")
"Did you mean 'orders'? Check the name with show_source."
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TypeVar

from lakeforge.fixes import Fix

# A fix keeps its kind: plain text, or one whose command references each surface words.
FixT = TypeVar("FixT", str, Fix)

# difflib's own default: close enough that "ordrs" finds "orders" but "hr" does not find "retail".
DEFAULT_CUTOFF = 0.6
_HINT = "Did you mean {name!r}?"


def closest(word: str, candidates: Iterable[str], cutoff: float = DEFAULT_CUTOFF) -> str | None:
    """The candidate spelled most like ``word`` (similarity at least ``cutoff``), or None.

    Ties go to the name that sorts last, whatever order the candidates come in, so the same
    typo always gets the same suggestion.
    """
    match = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return match[0] if match else None


def hint(name: str) -> str:
    """The words that suggest ``name``."""
    return _HINT.format(name=name)


def did_you_mean(
    word: str, candidates: Iterable[str], fix: FixT | None = None, cutoff: float = DEFAULT_CUTOFF
) -> FixT | str | None:
    """``fix`` led by "Did you mean 'x'?" when a candidate is close to ``word``, else ``fix`` as it is.

    A candidate equal to ``word`` is no suggestion (the name exists: the error is about something
    else), so it is left out.
    """
    close = closest(word, (name for name in candidates if name != word), cutoff)
    if close is None:
        return fix
    if isinstance(fix, Fix):
        return fix.led_by(f"{hint(close)} ")
    return f"{hint(close)} {fix}" if fix else hint(close)


def split_hint(fix: str | None) -> tuple[str, str | None]:
    """A fix as (its leading "Did you mean 'x'? ", the rest), so a surface that rewords fixes
    (``lakeforge.yaml`` speaks of the file, not of intents) keeps the suggestion."""
    if fix and fix.startswith("Did you mean ") and "? " in fix:
        head, _, rest = fix.partition("? ")
        return f"{head}? ", rest
    if fix and fix.startswith("Did you mean ") and fix.endswith("?"):
        return fix, None
    return "", fix
