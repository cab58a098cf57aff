"""Write the REST API's OpenAPI document to web/openapi.json (the panel's typed client is generated from it).

Run from the repository root: ``uv run python web/scripts/dump_openapi.py [--check]``.
``--check`` exits 1 when the committed file differs from what the app publishes, so a changed
API cannot ship with a stale panel client.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "openapi.json"


def current_spec() -> str:
    from api.app import create_app
    from lakeforge.settings import load_settings

    # Building the app opens no database (that happens at startup), so any state folder will do.
    with tempfile.TemporaryDirectory() as state:
        app = create_app(load_settings(state_dir=Path(state)))
        return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    spec = current_spec()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != spec:
            print(f"{TARGET} is out of date with the API: run `make web-api` and commit the result.")
            return 1
        return 0
    TARGET.write_text(spec)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
