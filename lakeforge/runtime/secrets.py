"""Secret references (``{{secrets/scope/key}}``) resolved at run time, never stored or logged.

On Databricks they come from secret scopes (``dbutils.secrets.get``). Elsewhere from the
environment variable ``LF_SECRET_<SCOPE>__<KEY>`` (upper case, ``-`` and ``.`` as ``_``) or from
``STATE_DIR/secrets.json`` (``{"scope": {"key": "value"}}``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from lakeforge.errors import LakeForgeError

SECRET_REF = re.compile(r"\{\{secrets/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)\}\}")


def env_name(scope: str, key: str) -> str:
    def norm(part: str) -> str:
        return re.sub(r"[^A-Za-z0-9]", "_", part).upper()

    return f"LF_SECRET_{norm(scope)}__{norm(key)}"


class SecretResolver:
    def __init__(self, state_dir: Path | None = None, dbutils: Any = None) -> None:
        self.state_dir = state_dir
        self.dbutils = dbutils

    def get(self, scope: str, key: str) -> str:
        if self.dbutils is not None:
            return str(self.dbutils.secrets.get(scope=scope, key=key))
        value = os.environ.get(env_name(scope, key))
        if value is not None:
            return value
        if self.state_dir is not None:
            path = self.state_dir / "secrets.json"
            if path.is_file():
                found = json.loads(path.read_text()).get(scope, {}).get(key)
                if found is not None:
                    return str(found)
        raise LakeForgeError(
            f"secret {{{{secrets/{scope}/{key}}}}} is not set",
            field="secret",
            fix=f"Set the environment variable {env_name(scope, key)} or add it to STATE_DIR/secrets.json.",
        )

    def resolve(self, value: Any) -> Any:
        """Replace every secret reference inside strings, dicts and lists."""
        if isinstance(value, str):
            return SECRET_REF.sub(lambda m: self.get(m.group(1), m.group(2)), value)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value
