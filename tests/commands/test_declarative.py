"""lakeforge.yaml: apply through the executor, export the inverse, export → apply is a no-op."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from lakeforge.commands.access import Principal
from lakeforge.commands.declarative import apply_document, apply_file, export_yaml, parse_document
from lakeforge.commands.envelope import Actor
from lakeforge.errors import LakeForgeError
from tests.commands.conftest import table_contents

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lakeforge.yaml"
ACTOR = Actor(user="ci", surface="yaml")
ADMIN = Principal.local_admin("ci")


def _count(db, query):
    with db.connection() as conn:
        return next(iter(conn.execute(query).fetchone().values()))


def test_example_file_applies_then_export_apply_changes_nothing(db, tmp_path):
    dry = apply_file(db, EXAMPLE, ACTOR, ADMIN, dry_run=True)
    assert dry.ok and dry.changes == 5  # system, group, three sources
    assert _count(db, "SELECT count(*) FROM source") == 0

    report = apply_file(db, EXAMPLE, ACTOR, ADMIN)
    assert report.ok, [(s.name, s.errors) for s in report.steps]
    assert _count(db, "SELECT count(*) FROM source") == 3
    assert _count(db, "SELECT count(*) FROM dq_rule") == 6
    assert _count(db, "SELECT count(*) FROM gold_config") == 1
    assert _count(db, "SELECT quartz_cron FROM schedule") == "0 0 2 * * ?"
    assert (
        _count(db, "SELECT count(*) FROM command_audit WHERE surface = 'yaml' AND outcome = 'applied'") == 5
    )

    exported = tmp_path / "exported.yaml"
    exported.write_text(export_yaml(db))
    before = table_contents(db)
    again = apply_file(db, exported, ACTOR, ADMIN)
    assert again.ok and again.changes == 0, [s.plan for s in again.steps if s.changed]
    assert table_contents(db) == before  # no revision rows, no writes
    # Applying the original file again is a no-op as well, and the dry run agrees.
    assert apply_file(db, EXAMPLE, ACTOR, ADMIN, dry_run=True).changes == 0
    assert apply_file(db, EXAMPLE, ACTOR, ADMIN).changes == 0


def test_export_round_trips_profiles_channels_and_explicit_targets(db, run, retail):
    run(
        {
            "kind": "upsert_compute_profile",
            "name": "small",
            "profile_kind": "job_cluster",
            "num_workers": 2,
            "spark_conf": {"spark.sql.shuffle.partitions": "8"},
        }
    )
    run({"kind": "update_group", "name": "retail", "compute_profile": "small"})
    run({"kind": "subscribe_channel", "group": "retail", "slack_channel_id": "C0123ABCD"})
    run({"kind": "update_source", "name": "orders", "bronze": {"target_table": "lake.raw_orders"}})
    text = export_yaml(db)
    doc = yaml.safe_load(text)
    group = doc["groups"][0]
    assert group["compute_profile"] == "small" and group["notify"]["slack_channel_id"] == "C0123ABCD"
    assert group["sources"][0]["bronze"] == {"target_table": "lake.raw_orders"}
    before = table_contents(db)
    report = apply_document(db, parse_document(doc), ACTOR, ADMIN)
    assert report.ok and report.changes == 0, [s.plan for s in report.steps if s.changed]
    assert table_contents(db) == before


def test_a_changed_file_updates_only_what_changed(db, tmp_path):
    apply_file(db, EXAMPLE, ACTOR, ADMIN)
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["groups"][0]["sources"][1]["location"] = "examples/data/retail/orders_v2/"
    changed = apply_document(db, parse_document(doc), ACTOR, ADMIN)
    assert changed.changes == 1
    step = next(s for s in changed.steps if s.changed)
    assert step.name == "orders"
    assert [line["field"] for line in step.plan if line["op"] == "update"] == ["location"]


def test_bad_files_are_refused_with_the_path_inside_the_file(db):
    with pytest.raises(LakeForgeError) as caught:
        parse_document({"version": 1, "groups": [{"name": "g", "colour": "red"}]})
    assert caught.value.field == "lakeforge.yaml.groups.0.colour"
    bad_rule = {
        "version": 1,
        "groups": [
            {
                "name": "g",
                "sources": [
                    {
                        "name": "s",
                        "format": "csv",
                        "location": "/x",
                        "dq_rules": [{"name": "r", "expression": "reflect('a','b')"}],
                    }
                ],
            }
        ],
    }
    with pytest.raises(LakeForgeError, match="reflect"):
        parse_document(bad_rule)
    # A name that fails the executor's checks stops the apply there, naming the field.
    doc = parse_document({"version": 1, "groups": [{"name": "Bad-Name"}]})
    report = apply_document(db, doc, ACTOR, ADMIN)
    assert not report.ok and report.steps[-1].errors[0].field == "intent.name"
    assert _count(db, "SELECT count(*) FROM source_group") == 0


def test_cli_apply_export_history_and_token(db, settings, tmp_path, monkeypatch):
    from lakeforge.cli import app

    monkeypatch.setenv("LAKEFORGE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LAKEFORGE_STATE_DIR", str(settings.state_dir))
    from lakeforge.settings import get_settings

    get_settings.cache_clear() if hasattr(get_settings, "cache_clear") else None
    runner = CliRunner()
    dry = runner.invoke(app, ["apply", "-f", str(EXAMPLE), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would change" in dry.output and _count(db, "SELECT count(*) FROM source") == 0
    applied = runner.invoke(app, ["apply", "-f", str(EXAMPLE), "--json"])
    assert applied.exit_code == 0, applied.output
    assert json.loads(applied.output)["changes"] == 5
    out = tmp_path / "out.yaml"
    assert runner.invoke(app, ["export", "-o", str(out)]).exit_code == 0
    assert yaml.safe_load(out.read_text())["groups"][0]["name"] == "retail"
    history = runner.invoke(app, ["history", "orders", "--json"])
    assert history.exit_code == 0 and json.loads(history.output)[0]["revision"] == 1
    token = runner.invoke(
        app, ["token", "create", "--user", "ana", "--role", "operator", "--group", "retail"]
    )
    assert token.exit_code == 0, token.output
    assert token.output.strip().splitlines()[-1].startswith("lf_")


def test_cli_dry_run_names_the_rule_and_shows_long_values_whole(db, settings, tmp_path, monkeypatch):
    from lakeforge.cli import app

    monkeypatch.setenv("LAKEFORGE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LAKEFORGE_STATE_DIR", str(settings.state_dir))
    from lakeforge.settings import get_settings

    get_settings.cache_clear()
    assert apply_file(db, EXAMPLE, ACTOR, ADMIN).ok
    text = EXAMPLE.read_text()
    text = text.replace("action: warn", "action: drop", 1)
    # The only difference sits past the first 80 characters of a long value.
    text = text.replace("amount DECIMAL(12,2)", "amount DECIMAL(18,2)")
    changed = tmp_path / "changed.yaml"
    changed.write_text(text)
    dry = CliRunner().invoke(app, ["apply", "-f", str(changed), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    # Rule names are in brackets, which the terminal must print rather than read as markup.
    assert "customers.dq_rules[email_looks_valid].action" in dry.output
    assert "'warn' → 'drop'" in dry.output
    assert "DECIMAL(18,2)'" in dry.output
