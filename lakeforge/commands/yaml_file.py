"""Reading ``lakeforge.yaml`` so that every error can point at a line of the file.

PyYAML's composed node tree keeps where each key and value starts; ``read_yaml`` walks it once
to map every path inside the document (``("groups", "0", "sources", "1", "system")``) to its
line. The same walk refuses a key given twice in one mapping, which plain YAML loading would
silently resolve by keeping the last one.

>>> data, lines = read_yaml("groups:\\n  - name: retail\\n", "lakeforge.yaml")
>>> line_of(lines, ("groups", "0", "name"))
2
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from lakeforge.commands.envelope import FieldError
from lakeforge.errors import LakeForgeError

DocPath = tuple[str, ...]
Lines = Mapping[DocPath, int]


class InvalidFile(LakeForgeError):
    """The file cannot be applied; ``errors`` holds every problem found, each with its place."""

    def __init__(self, errors: list[FieldError]) -> None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first.message + more, field=first.field, fix=first.fix)
        self.errors = errors


_SYNTAX_FIX = (
    "Fix the YAML syntax there: indent nested keys evenly with spaces, and quote "
    "values that contain ': ' or start with '{', '[', '*', '&' or '!'."
)
# PyYAML's words for the mistakes people make most ("found character '\\t' that cannot start any
# token", "expected <block end>") hide the cause: these say it, keyed by a part of PyYAML's problem.
_SYNTAX = {
    "'\\t'": (
        "has a tab character",
        "YAML allows no tabs in indentation or unquoted values: replace the tab with spaces.",
    ),
    "expected <block end>": (
        "is not valid YAML: this line is indented differently from the lines above it",
        "Indent the keys of one mapping by the same number of spaces, and the items of a list too.",
    ),
    "mapping values are not allowed here": (
        "is not valid YAML: a value holds ': '",
        'Quote that value (e.g. description: "note: loaded daily"), or put the key on a line of its own.',
    ),
}


def read_yaml(text: str, source: str) -> tuple[Any, dict[DocPath, int]]:
    """The document in ``text`` and the line of every path in it; syntax errors name the line."""
    loader = yaml.SafeLoader(text)
    lines: dict[DocPath, int] = {}
    try:
        # One parse: the composed nodes give the lines, and the same nodes are built into data.
        node = loader.get_single_node()
        if node is not None:
            # Walked before they are built: building merges '<<: *anchor' keys into the mapping in
            # place, and a key that overrides a merged one would then look like a key given twice.
            _walk(node, (), lines, source)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = " ".join(part for part in (error.context, error.problem) if part)
        said = next((known for needle, known in _SYNTAX.items() if needle in problem), None)
        message, fix = (said[0], said[1]) if said else (f"is not valid YAML: {problem}", _SYNTAX_FIX)
        raise InvalidFile([FieldError(field=source, message=f"{message}{where}", fix=fix)]) from None
    except yaml.YAMLError as error:
        raise InvalidFile(
            [FieldError(field=source, message=f"is not valid YAML ({error})", fix="Fix the YAML syntax.")]
        ) from None
    finally:
        loader.dispose()
    return data, lines


def _walk(node: yaml.Node, path: DocPath, lines: dict[DocPath, int], source: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value)
            line = key.start_mark.line + 1
            if name in seen:
                raise InvalidFile(
                    [
                        FieldError(
                            field=".".join((source, *path, name)),
                            message=f"is given twice (lines {seen[name]} and {line})",
                            fix="Keep one of them: YAML would silently keep only the last.",
                        )
                    ]
                )
            seen[name] = line
            lines[(*path, name)] = line  # the key's line: where the reader looks for it
            if name != "<<" or key.tag != "tag:yaml.org,2002:merge":  # merged keys: at the anchor
                _walk(value, (*path, name), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, str(index)), lines, source)


def line_of(lines: Lines, path: Sequence[str]) -> int | None:
    """The line of ``path``, or of its nearest ancestor present in the file (defaults have none)."""
    parts = tuple(path)
    while parts:
        if parts in lines:
            return lines[parts]
        parts = parts[:-1]
    return None
