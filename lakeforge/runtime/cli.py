"""``lakeforge notebook run PATH --param k=v ... [--engine spark|embedded]``."""

from __future__ import annotations

from typing import Annotated

import typer

from lakeforge.errors import LakeForgeError
from lakeforge.terminal import make_console

notebook_app = typer.Typer(no_args_is_help=True, help="Run LakeForge notebooks locally.")
console = make_console()


@notebook_app.command("run")
def notebook_run(
    path: Annotated[
        str, typer.Argument(help="A Databricks source-format notebook, e.g. notebooks/raw_to_bronze.py")
    ],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Widget value NAME=VALUE.")] = None,
    engine: Annotated[str | None, typer.Option("--engine", help="spark or embedded (default: auto).")] = None,
) -> None:
    """Run a notebook with a local dbutils shim; prints its exit value."""
    from lakeforge.runtime.notebook import run_notebook

    params: dict[str, str] = {}
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise LakeForgeError(
                f"{item!r} is not NAME=VALUE", field="--param", fix="Write --param source=orders."
            )
        params[name.strip()] = value
    if engine not in (None, "spark", "embedded", "auto"):
        raise LakeForgeError(f"unknown engine {engine!r}", field="--engine", fix="Use spark or embedded.")
    result = run_notebook(path, params, engine=engine)
    if result:
        console.print(result, highlight=False, soft_wrap=True)
