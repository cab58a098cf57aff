"""The Slack app manifest matches what the app serves."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.app import SLASH_COMMAND
from bot.blocks import GRAMMAR

MANIFEST = Path(__file__).resolve().parents[2] / "bot" / "manifest.yaml"


def test_manifest_points_commands_and_interactivity_at_slack_events() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    command = manifest["features"]["slash_commands"][0]
    assert command["command"] == SLASH_COMMAND
    assert command["url"].endswith("/slack/events") and command["should_escape"] is True
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    assert {"commands", "chat:write"} <= set(manifest["oauth_config"]["scopes"]["bot"])


def test_docs_show_every_verb_of_the_grammar() -> None:
    docs = (MANIFEST.parents[1] / "docs" / "chat.md").read_text()
    for verb, kind, _ in GRAMMAR:
        assert verb in docs and (kind in docs or kind == "show_history")
