"""Intent models on their own: examples parse, the schema is published, errors name fields."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from lakeforge.commands.intents import INTENTS_BY_KIND, field_errors, intent_json_schema, parse_intent


@pytest.mark.parametrize("kind", sorted(INTENTS_BY_KIND))
def test_every_example_parses_as_its_kind(kind):
    intent = parse_intent(INTENTS_BY_KIND[kind].example)
    assert intent.kind == kind
    assert parse_intent(json.dumps(intent.model_dump(mode="json"))) == intent


def test_json_schema_is_a_discriminated_union_over_every_kind():
    schema = intent_json_schema()
    assert set(schema["discriminator"]["mapping"]) == set(INTENTS_BY_KIND)
    register = schema["$defs"]["RegisterSource"]
    assert register["additionalProperties"] is False
    assert register["properties"]["name"]["pattern"] == "^[a-z][a-z0-9_]{0,62}$"


def _errors(data):
    with pytest.raises(ValidationError) as caught:
        parse_intent(data)
    return field_errors(caught.value)


def test_nested_errors_name_the_nested_field_and_the_fix():
    errors = _errors(
        {"kind": "register_source", "name": "s", "group": "g", "format": "csv", "location": "/x",
         "dq_rules": [{"name": "r", "expression": "java_method('a', 'b') = 1"}]}
    )  # fmt: skip
    assert errors[0].field == "intent.dq_rules.0.expression"
    assert "java_method" in errors[0].message and errors[0].fix
    errors = _errors({"kind": "set_schedule", "group": "g", "quartz_cron": "0 2 * * *"})
    assert errors[0].field == "intent.quartz_cron" and "try '0 0 2 * * ?'" in errors[0].message
    errors = _errors({"kind": "nuke"})
    assert errors[0].field == "intent" and "register_source" in errors[0].fix


def test_credentials_must_be_secret_references():
    ok = {"kind": "upsert_system", "name": "crm", "connection": {"password": "{{secrets/crm/pw}}"}}
    assert parse_intent(ok)
    errors = _errors({**ok, "connection": {"api_key": "abc123"}})
    assert errors[0].field == "intent.connection.api_key" and "not a secret reference" in errors[0].message
    assert "{{secrets/scope/key}}" in (errors[0].fix or "")  # said in the fix, not twice
    errors = _errors(
        {"kind": "register_source", "name": "s", "group": "g", "format": "rest",
         "location": "https://bob:hunter2@api.example.com/v1/orders"}
    )  # fmt: skip
    assert errors[0].field == "intent.location" and "password" in errors[0].message


def test_update_intents_keep_only_the_fields_that_were_sent():
    intent = parse_intent(
        {"kind": "update_source", "name": "s", "silver": {"dedupe": False}, "description": None}
    )
    assert intent.changes() == {"silver": {"dedupe": False}, "description": None}
    with pytest.raises(ValidationError, match="nothing to change"):
        parse_intent({"kind": "update_source", "name": "s"})


def test_a_value_that_misses_its_pattern_gets_the_fix_for_that_pattern():
    [webhook] = _errors(
        {"kind": "subscribe_channel", "group": "retail", "webhook_url": "https://hooks.example.com/T0/B0"}
    )
    assert webhook.field == "intent.webhook_url" and "{{secrets/scope/key}}" in (webhook.fix or "")
    [slack] = _errors({"kind": "subscribe_channel", "group": "retail", "slack_channel_id": "#retail"})
    assert "Slack channel id" in (slack.fix or "")
    [name] = _errors({"kind": "create_group", "name": "Retail"})
    assert "lower-case letters" in (name.fix or "")


def test_an_option_of_the_wrong_shape_is_one_error_at_its_own_path():
    [error] = _errors(
        {"kind": "upsert_system", "name": "crm", "connection": {"port": [5432], "host": "db.internal"}}
    )
    assert error.field == "intent.connection.port"
    assert error.message == "should be text, a number or true/false"
    assert "not a list or a mapping" in (error.fix or "")


def test_a_value_out_of_bounds_or_choices_is_said_once_with_the_closest_choice():
    [retries] = _errors({"kind": "create_group", "name": "retail", "max_retries": -1})
    assert (retries.field, retries.message, retries.fix) == (
        "intent.max_retries",
        "is out of range",
        "Use a value of at least 0.",
    )
    [action] = _errors(
        {"kind": "add_dq_rule", "source": "orders", "name": "r", "expression": "a > 0", "action": "quarantin"}
    )
    assert action.message == "'quarantin' is not one of the allowed values"
    assert action.fix == "Did you mean 'quarantine'? Use 'warn', 'drop', 'fail' or 'quarantine'."


@pytest.mark.parametrize("zone", ["raw", "bronze", "silver"])
def test_a_credential_in_a_zone_option_must_be_a_secret_reference_too(zone):
    source = {"kind": "register_source", "name": "s", "group": "g", "format": "csv", "location": "/x/"}
    [error] = _errors({**source, zone: {"options": {"password": "hunter2-plain"}}})
    assert error.field == f"intent.{zone}.options.password"
    assert error.message == "holds a credential value, not a secret reference"
    assert "hunter2" not in (error.message + (error.fix or ""))
    assert parse_intent({**source, zone: {"options": {"password": "{{secrets/shop/pw}}"}}})
    [update] = _errors({"kind": "update_source", "name": "s", zone: {"options": {"token": "abc"}}})
    assert update.field == f"intent.{zone}.options.token"
