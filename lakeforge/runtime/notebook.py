"""Run a Databricks source-format notebook locally, with a small ``dbutils`` shim.

The notebook file starts with ``# Databricks notebook source`` and separates cells with
``# COMMAND ----------``; ``# MAGIC`` lines (markdown cells) are comments to Python. The shim
offers what LakeForge notebooks use: ``dbutils.widgets`` (text, dropdown, get, getArgument),
``dbutils.secrets.get`` (environment ``LF_SECRET_<SCOPE>__<KEY>`` or ``STATE_DIR/secrets.json``),
``dbutils.jobs.taskValues`` and ``dbutils.notebook.exit``.

>>> run_notebook("notebooks/raw_to_bronze.py", {"group": "sales", "source": "orders"})
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from lakeforge.errors import LakeForgeError
from lakeforge.runtime.secrets import SecretResolver
from lakeforge.settings import Settings, get_settings

HEADER = "# Databricks notebook source"
CELL = "# COMMAND ----------"


class NotebookExit(Exception):
    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


class _Widgets:
    def __init__(self, params: dict[str, str]) -> None:
        self._params = dict(params)
        self._defaults: dict[str, str] = {}

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        self._defaults[name] = defaultValue

    def dropdown(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:
        self._defaults[name] = defaultValue

    def combobox(self, name: str, defaultValue: str, choices: list[str], label: str | None = None) -> None:
        self._defaults[name] = defaultValue

    def get(self, name: str) -> str:
        if name in self._params:
            return self._params[name]
        if name in self._defaults:
            return self._defaults[name]
        raise LakeForgeError(
            f"widget {name!r} is not defined",
            field=name,
            fix="Define it with dbutils.widgets.text(...) or pass --param NAME=VALUE.",
        )

    def getArgument(self, name: str, default: str | None = None) -> str | None:
        try:
            return self.get(name)
        except LakeForgeError:
            return default

    def removeAll(self) -> None:
        self._defaults.clear()

    def remove(self, name: str) -> None:
        self._defaults.pop(name, None)


class _Secrets:
    def __init__(self, resolver: SecretResolver) -> None:
        self._resolver = resolver

    def get(self, scope: str, key: str) -> str:
        return self._resolver.get(scope, key)


class _TaskValues:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def get(self, taskKey: str, key: str, default: Any = None, debugValue: Any = None) -> Any:
        return self.values.get(key, default if default is not None else debugValue)


class _Jobs:
    def __init__(self) -> None:
        self.taskValues = _TaskValues()


class _Notebook:
    def exit(self, value: Any = "") -> None:
        raise NotebookExit("" if value is None else str(value))


class LocalDbutils:
    """The subset of Databricks ``dbutils`` LakeForge notebooks use."""

    def __init__(
        self,
        params: dict[str, str],
        settings: Settings | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        # LakeForge's settings for this run and the local workspace's cancel signal (not part of
        # Databricks' dbutils; used by the tasks).
        self.lakeforge_settings = settings
        self.lakeforge_cancel = cancel
        state_dir = settings.state_dir if settings else None
        self.widgets = _Widgets(params)
        self.secrets = _Secrets(SecretResolver(state_dir))
        self.jobs = _Jobs()
        self.notebook = _Notebook()


def read_cells(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if not text.startswith(HEADER):
        raise LakeForgeError(
            f"{path} is not a Databricks source notebook",
            field="path",
            fix=f"The file must start with the line '{HEADER}'.",
        )
    return [cell for cell in text[len(HEADER) :].split(CELL) if cell.strip()]


def run_notebook(
    path: str | Path,
    params: dict[str, str],
    engine: str | None = None,
    *,
    settings: Settings | None = None,
    cancel: threading.Event | None = None,
) -> str:
    """Run the notebook's cells in order; returns the ``dbutils.notebook.exit`` value ("" if none).

    ``engine`` (spark|embedded) overrides the ``engine`` widget; ``settings`` defaults to the
    process settings; ``cancel``, once set, stops the batch the notebook runs at its next table
    or zone. Errors raised by a cell propagate.
    """

    notebook = Path(path)
    if not notebook.is_file():
        raise LakeForgeError(f"notebook {path} does not exist", field="path", fix="Check the path.")
    values = dict(params)
    if engine:
        values["engine"] = engine
    dbutils = LocalDbutils(values, settings or get_settings(), cancel)
    namespace: dict[str, Any] = {
        "__name__": "__lakeforge_notebook__",
        "__file__": str(notebook),
        "dbutils": dbutils,
    }
    try:
        for number, cell in enumerate(read_cells(notebook), start=1):
            exec(compile(cell, f"{notebook}#cell{number}", "exec"), namespace)  # noqa: S102 - the notebook is the program
    except NotebookExit as done:
        return done.value
    return ""
