"""The Databricks App definition (``app.yaml``) that serves LakeForge's API next to Lakebase.

Nothing secret is written: the Lakebase endpoint and the Slack credentials come from the
app's resources through ``valueFrom``; the file only names them.
"""

from __future__ import annotations

from typing import Any

import yaml

from lakeforge.settings import Settings

# Resource keys the App must declare (Apps UI → Resources, or the bundle's app resource).
DATABASE_RESOURCE = "lakebase"
SLACK_SIGNING_RESOURCE = "slack-signing-secret"
SLACK_TOKEN_RESOURCE = "slack-bot-token"  # noqa: S105 - a resource key, not a token


def app_definition(settings: Settings) -> dict[str, Any]:
    env: list[dict[str, str]] = []
    if settings.lakebase_instance:
        # Provisioned instances are found by name; the token is minted by the App's identity.
        env.append({"name": "LAKEFORGE_LAKEBASE_INSTANCE", "value": settings.lakebase_instance})
    else:
        # An autoscaling database resource resolves to its endpoint path.
        env.append({"name": "LAKEFORGE_LAKEBASE_ENDPOINT", "valueFrom": DATABASE_RESOURCE})
    env += [
        {"name": "LAKEFORGE_LAKEBASE_DATABASE", "value": settings.lakebase_database},
        {"name": "LAKEFORGE_SLACK_SIGNING_SECRET", "valueFrom": SLACK_SIGNING_RESOURCE},
        {"name": "LAKEFORGE_SLACK_BOT_TOKEN", "valueFrom": SLACK_TOKEN_RESOURCE},
        {"name": "LAKEFORGE_STATE_DIR", "value": "/tmp/lakeforge"},  # noqa: S108 - the App's scratch space
    ]
    return {
        # Apps start the command without a shell; `lakeforge up` reads DATABRICKS_APP_PORT itself.
        "command": ["lakeforge", "up", "--host", "0.0.0.0"],  # noqa: S104 - the App's proxy connects here
        "env": env,
    }


def render_app_yaml(settings: Settings) -> str:
    header = "# Written by `lakeforge deploy`: the LakeForge API as a Databricks App.\n"
    return header + yaml.safe_dump(app_definition(settings), sort_keys=False)
