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
from lakeforge.commands.yaml_file import InvalidFile
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
    run({"kind": "pause_schedule", "group": "retail"})
    text = export_yaml(db)
    doc = yaml.safe_load(text)
    group = doc["groups"][0]
    assert group["compute_profile"] == "small" and group["notify"]["slack_channel_id"] == "C0123ABCD"
    assert group["sources"][0]["bronze"] == {"target_table": "lake.raw_orders"}
    # The file says what was chosen: the schedule's default zone (UTC) is left out.
    assert group["schedule"] == {"quartz_cron": "0 0 2 * * ?", "paused": True}
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
    # A name that fails the executor's checks stops the apply there, naming the field in the file.
    doc = parse_document({"version": 1, "groups": [{"name": "Bad-Name"}]})
    report = apply_document(db, doc, ACTOR, ADMIN)
    assert not report.ok and report.steps[-1].errors[0].field == "lakeforge.yaml.groups.0.name"
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
    answer = json.loads(applied.output)
    assert answer["changes"] == 5 and answer["errors"] == []  # the same keys as a refused file's
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
    empty = _write(tmp_path, "# exported 2026-11-27\n")
    nothing = runner.invoke(app, ["apply", "-f", str(empty)])
    assert nothing.exit_code == 0 and "declares no compute profile, system or group" in nothing.output


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
    assert CliRunner().invoke(app, ["apply", "-f", str(changed)]).exit_code == 0
    history = CliRunner().invoke(app, ["history", "customers"])
    assert "dq_rules[email_looks_valid].action 'warn' → 'drop'" in history.output


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lakeforge.yaml"
    path.write_text(text)
    return path


def test_a_file_with_a_bad_entity_changes_nothing_and_points_at_its_line(db, tmp_path):
    """The system and group are fine, the second source is not: nothing is written, dry run or not."""
    assert apply_file(db, EXAMPLE, ACTOR, ADMIN).ok
    text = EXAMPLE.read_text().replace("One row per customer;", "One row per client;")
    lines = text.splitlines()
    orders_system = [n for n, line in enumerate(lines) if line.strip() == "system: shop"][1]
    lines[orders_system] = lines[orders_system].replace("shop", "shopp")
    path = _write(tmp_path, "\n".join(lines) + "\n")
    before = table_contents(db)
    audits = _count(db, "SELECT count(*) FROM command_audit")
    for dry_run in (True, False):
        report = apply_file(db, path, ACTOR, ADMIN, dry_run=dry_run)
        assert not report.ok and report.changes == (1 if dry_run else 0)
        [rejected] = [step for step in report.steps if step.status == "rejected"]
        [error] = rejected.errors
        assert rejected.name == "orders"
        assert error.field == f"{path}.groups.0.sources.1.system"
        assert f"line {orders_system + 1}" in error.message and "'shopp' does not exist" in error.message
        assert "systems:" in (error.fix or "")
        assert rejected.message.startswith(f"{path}.groups.0.sources.1.system: source system 'shopp'")
        assert table_contents(db) == before  # customers' new description was not applied either
        assert _count(db, "SELECT count(*) FROM command_audit") == audits  # rehearsals leave no trace


def test_a_dry_run_runs_every_check_of_apply_and_never_shows_an_inline_secret(
    db, settings, tmp_path, monkeypatch
):
    from lakeforge.cli import app
    from lakeforge.settings import get_settings

    monkeypatch.setenv("LAKEFORGE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LAKEFORGE_STATE_DIR", str(settings.state_dir))
    get_settings.cache_clear()
    path = _write(
        tmp_path,
        """version: 1
systems:
  - name: erp
    kind: database
    connection: {host: db.internal, password: hunter2-in-clear}
groups:
  - name: erp_sales
    compute_profile: huge
    notify: {webhook_url: "https://hooks.example.com/T0/B0/abc123"}
    sources:
      - {name: invoices, system: erp, format: jdbc, location: invoices}
""",
    )
    result = CliRunner().invoke(app, ["apply", "-f", str(path), "--dry-run"])
    assert result.exit_code == 2, result.output
    assert "hunter2-in-clear" not in result.output and "abc123" not in result.output
    output = " ".join(result.output.split())  # the console wraps long lines
    assert f"{path}.systems.0.connection.password: holds a credential value" in output
    assert "(line 5)" in output
    assert output.count("secret scope") == 2  # once in each fix (password, webhook), never twice
    assert f"{path}.groups.0.compute_profile: compute profile 'huge' does not exist (line 8)" in output
    assert f"{path}.groups.0.notify.webhook_url" in output and "'{{secrets/scope/key}}'" in output
    assert "nothing was changed" in output
    # Refusals go to stderr: a plan redirected to a file never hides them.
    assert "error:" in result.stderr and "nothing was changed" in result.stderr
    assert "error:" not in result.stdout and "nothing was changed" not in result.stdout
    assert _count(db, "SELECT count(*) FROM source_system") == 0
    assert _count(db, "SELECT count(*) FROM command_audit") == 0


def test_mistakes_in_the_file_are_all_listed_with_their_line_and_a_fix(db, tmp_path):
    text = EXAMPLE.read_text()
    typo = text.replace("primary_keys: [order_id]", "primary_key: [order_id]")
    typo = typo.replace("scd_type: 2", "scd_type: two")
    with pytest.raises(InvalidFile) as caught:
        apply_file(db, _write(tmp_path, typo), ACTOR, ADMIN, dry_run=True)
    first, second = caught.value.errors
    assert first.field.endswith(".groups.0.sources.0.silver.scd_type") and "(line 37)" in first.message
    assert second.field.endswith(".groups.0.sources.1.silver.primary_key") and "(line 60)" in second.message
    assert "Did you mean 'primary_keys'?" in (second.fix or "")

    twice = text.replace("        format: csv\n", "        format: csv\n        format: json\n", 1)
    with pytest.raises(InvalidFile, match=r"is given twice \(lines 31 and 32\)"):
        apply_file(db, _write(tmp_path, twice), ACTOR, ADMIN, dry_run=True)

    renamed = text.replace("name: order_items", "name: orders")
    with pytest.raises(InvalidFile) as caught:
        apply_file(db, _write(tmp_path, renamed), ACTOR, ADMIN, dry_run=True)
    assert caught.value.errors[0].field.endswith(".groups.0.sources.2.name")
    assert "source 'orders' is declared twice, first at line 53 (line 72)" in caught.value.errors[0].message

    broken = text.replace("        format: csv\n", "       format: csv\n", 1)
    with pytest.raises(InvalidFile, match=r"is not valid YAML: .*\(line 31, column 8\)"):
        apply_file(db, _write(tmp_path, broken), ACTOR, ADMIN, dry_run=True)
    assert _count(db, "SELECT count(*) FROM command_audit") == 0


def test_a_section_written_as_one_value_is_explained_without_echoing_it(db, tmp_path):
    assert apply_file(db, _write(tmp_path, ""), ACTOR, ADMIN).changes == 0  # empty file: nothing declared
    text = "groups:\n  - name: retail\n    notify: https://hooks.example.com/T0/B0/abc123\n"
    with pytest.raises(InvalidFile) as caught:
        apply_file(db, _write(tmp_path, text), ACTOR, ADMIN, dry_run=True)
    [error] = caught.value.errors
    assert error.field.endswith(".groups.0.notify")
    assert error.message == "should be a mapping of keys, not a single value (line 3)"
    assert "slack_channel_id, webhook_url" in (error.fix or "") and "abc123" not in error.fix
    assert "abc123" not in caught.value.sentence()


def test_a_renamed_source_is_reported_as_left_in_place(db, tmp_path):
    assert apply_file(db, EXAMPLE, ACTOR, ADMIN).ok
    renamed = _write(tmp_path, EXAMPLE.read_text().replace("- name: order_items", "- name: order_lines"))
    report = apply_file(db, renamed, ACTOR, ADMIN, dry_run=True)
    assert report.ok and report.changes == 1
    # Apply never deletes: the old name keeps loading the same files unless it is removed.
    assert report.undeclared_sources == ["order_items"]
    assert apply_file(db, EXAMPLE, ACTOR, ADMIN, dry_run=True).undeclared_sources == []


def test_file_errors_need_no_database_and_are_named_as_written(tmp_path, monkeypatch, capsys):
    from lakeforge.cli import main

    # No database settings: opening the metadata store would start Postgres under this state dir.
    monkeypatch.setenv("LAKEFORGE_STATE_DIR", str(tmp_path / "state"))
    missing = tmp_path / "[dev]lakeforge.yaml"
    monkeypatch.setattr("sys.argv", ["lakeforge", "apply", "-f", str(missing)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert "[dev]lakeforge.yaml" in capsys.readouterr().err  # brackets are text, not markup

    broken = tmp_path / "lakeforge.yaml"
    broken.write_text("groups:\n  - name: retail\n    colour: red\n")
    monkeypatch.setattr("sys.argv", ["lakeforge", "apply", "-f", str(broken), "--dry-run"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    assert "groups.0.colour" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()


def test_a_section_left_empty_or_of_the_wrong_kind_says_how_to_write_it(db, tmp_path):
    text = "groups:\n  - name: retail\n    sources:\n    gold: {name: g}\n"
    with pytest.raises(InvalidFile) as caught:
        apply_file(db, _write(tmp_path, text), ACTOR, ADMIN, dry_run=True)
    sources, gold = caught.value.errors  # in the order of the file
    assert sources.message == "should be a list, not empty (line 3)" and "use [] for none" in (
        sources.fix or ""
    )
    assert gold.message == "should be a list, not a dict (line 4)"


def _file_errors(tmp_path: Path, text: str) -> list:
    from lakeforge.commands.declarative import read_file

    with pytest.raises(InvalidFile) as caught:
        read_file(_write(tmp_path, text))
    return caught.value.errors


def test_a_key_in_the_wrong_place_says_where_it_belongs(tmp_path):
    text = (
        "sources:\n"  # 1: forgot the group around it
        "  - name: x\n"
        "groups:\n"
        "  - name: retail\n"
        "    quartz_cron: '0 0 2 * * ?'\n"  # 5: belongs in schedule
        "    sources:\n"
        "      - name: orders\n"
        "        format: csv\n"
        "        location: /x/\n"
        "        primary_keys: [id]\n"  # 10: belongs in silver
        "        silver: {primary_key: [id]}\n"  # 11: a typo, not a misplaced key
    )
    top, cron, keys, typo = _file_errors(tmp_path, text)
    assert top.field.endswith("lakeforge.yaml.sources")
    assert top.message == "is not a key of the top level (line 1)"
    assert (top.fix or "").startswith("'sources' belongs under groups: check its indentation.")
    assert cron.message == "is not a key of a group (line 5)"
    assert "'quartz_cron' belongs under groups → schedule" in (cron.fix or "")
    assert keys.message == "is not a key of a source (line 10)"
    assert "'primary_keys' belongs under groups → sources → silver" in (keys.fix or "")
    assert typo.message == "is not a key of a source's silver (line 11)"
    assert (typo.fix or "").startswith("Did you mean 'primary_keys'?")
    assert not any("Extra inputs" in error.message for error in (top, cron, keys, typo))


def test_wrong_values_in_the_file_are_said_in_its_words_in_file_order(tmp_path):
    text = (
        "compute_profiles:\n"
        "  - {name: big, kind: job_cluster, num_workers: two}\n"  # 2
        "groups:\n"
        "  - name: retail\n"
        "    schedule: {quartz_cron: '0 0 2 * * ?', paused: maybe}\n"  # 5
        "    sources:\n"
        "      - name: orders\n"  # 7: no format
        "        location: /x/\n"
        "        silver: {scd_type: 3}\n"  # 9
        "        raw: {retention_days: 0}\n"  # 10, before silver in the model's field order
        "        dq_rules:\n"
        "          - {name: r, expression: 'a > 0', action: delete}\n"  # 12
    )
    errors = _file_errors(tmp_path, text)
    said = [(e.field.split("lakeforge.yaml.")[1], e.message, e.fix) for e in errors]
    assert said == [
        ("compute_profiles.0.num_workers", "should be a whole number (line 2)", "Write digits only, e.g. 2."),
        ("groups.0.schedule.paused", "should be true or false (line 5)", "Write true or false."),
        (
            "groups.0.sources.0.format",
            "is missing (line 7)",
            "Add format: to it; a source needs name, format and location.",
        ),
        (
            "groups.0.sources.0.silver.scd_type",
            "3 is not one of the allowed values (line 9)",
            "Use 1 or 2.",
        ),
        ("groups.0.sources.0.raw.retention_days", "is out of range (line 10)", "Use a value of at least 1."),
        (
            "groups.0.sources.0.dq_rules.0.action",
            "'delete' is not one of the allowed values (line 12)",
            "Use 'warn', 'drop', 'fail' or 'quarantine'.",
        ),
    ]


@pytest.mark.parametrize(
    ("text", "message", "fix"),
    [
        (
            "groups:\n  - name: retail\n\tdescription: x\n",
            "has a tab character (line 3, column 1)",
            "replace the tab",
        ),
        (
            "groups:\n  - name: retail\n    sources:\n      - name: a\n     format: csv\n",
            "this line is indented differently from the lines above it (line 5, column 6)",
            "same number of spaces",
        ),
        (
            "groups:\n  - name: retail\n    description: note: daily\n",
            "a value holds ': ' (line 3, column 22)",
            'Quote that value (e.g. description: "note: loaded daily")',
        ),
    ],
)
def test_common_yaml_slips_are_named_for_what_they_are(tmp_path, text, message, fix):
    [error] = _file_errors(tmp_path, text)
    assert error.field.endswith("lakeforge.yaml") and error.message.endswith(message)
    assert fix in (error.fix or "") and "<block" not in error.message and "token" not in error.message


def test_an_unreadable_file_is_a_file_problem_also_in_json(tmp_path, monkeypatch, capsys):
    from lakeforge.cli import main

    monkeypatch.setenv("LAKEFORGE_STATE_DIR", str(tmp_path / "state"))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00groups")
    for path, reason in ((tmp_path / "missing.yaml", "No such file"), (binary, "not UTF-8")):
        monkeypatch.setattr("sys.argv", ["lakeforge", "apply", "-f", str(path), "--json"])
        with pytest.raises(SystemExit) as exited:
            main()
        assert exited.value.code == 2
        answer = json.loads(capsys.readouterr().out)  # a script gets JSON, not a sentence on stderr
        assert answer["ok"] is False and answer["undeclared_sources"] == [] and answer["steps"] == []
        [error] = answer["errors"]
        assert error["field"] == str(path) and reason in error["message"]
    assert not (tmp_path / "state").exists()


def test_a_password_in_a_location_is_refused_saying_where_the_credential_goes(db, tmp_path):
    text = (
        "groups:\n  - name: finance\n    sources:\n"
        "      - name: invoices\n        format: jdbc\n"
        "        location: jdbc:postgresql://bob:s3cret@db.internal:5432/erp\n"
        "        format_options: {dbtable: public.invoices}\n"
    )
    report = apply_file(db, _write(tmp_path, text), ACTOR, ADMIN, dry_run=True)
    [error] = [error for step in report.steps for error in step.errors]
    assert error.field.endswith(".groups.0.sources.0.location")
    assert error.message == "contains a password in the URL (user:password@host) (line 6)"
    assert "format_options.password: '{{secrets/scope/key}}'" in (error.fix or "")
    assert "s3cret" not in error.message + (error.fix or "")


def test_a_key_that_overrides_a_merged_anchor_is_no_duplicate(tmp_path):
    from lakeforge.commands.declarative import read_file

    text = (
        "groups:\n"
        "  - name: retail\n"
        "    sources:\n"
        "      - &orders\n"
        "        name: orders\n"
        "        format: csv\n"
        "        location: /landing/orders/\n"
        "        format_options: {header: true}\n"
        "      - <<: *orders\n"  # 9
        "        name: orders_eu\n"  # overrides the merged name, as YAML merge keys do
        "        location: /landing/orders_eu/\n"
    )
    doc, lines = read_file(_write(tmp_path, text))
    copy = doc.groups[0].sources[1]
    assert (copy.name, copy.location, copy.format_options) == (
        "orders_eu",
        "/landing/orders_eu/",
        {"header": True},
    )
    assert lines[("groups", "0", "sources", "1", "name")] == 10
    # A key written twice in the same mapping is still refused.
    twice = text + "        location: /landing/other/\n"
    [error] = _file_errors(tmp_path, twice)
    assert (
        error.field.endswith(".groups.0.sources.1.location")
        and "given twice (lines 11 and 12)" in error.message
    )


def test_export_to_a_place_it_cannot_write_is_one_sentence(db, settings, tmp_path, monkeypatch, capsys):
    from lakeforge.cli import main
    from lakeforge.settings import get_settings

    monkeypatch.setenv("LAKEFORGE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LAKEFORGE_STATE_DIR", str(settings.state_dir))
    get_settings.cache_clear()
    a_file = _write(tmp_path, "version: 1\n")
    for args, said in (
        (["-o", str(tmp_path / "missing" / "out.yaml")], "error: -o: cannot write"),
        (["-o", str(tmp_path)], "error: -o: cannot write"),
        (["--bundle", str(a_file)], "error: --bundle: cannot write"),
    ):
        monkeypatch.setattr("sys.argv", ["lakeforge", "export", *args])
        with pytest.raises(SystemExit) as exited:
            main()
        assert exited.value.code == 2
        err = " ".join(capsys.readouterr().err.split())
        assert err.startswith(said) and "Traceback" not in err, err
    assert a_file.read_text() == "version: 1\n"
    written = tmp_path / "[dev]lakeforge.yaml"
    monkeypatch.setattr("sys.argv", ["lakeforge", "export", "-o", str(written)])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 0 and yaml.safe_load(written.read_text())["version"] == 1
    assert f"Wrote {written}." in " ".join(capsys.readouterr().out.split())  # brackets kept
