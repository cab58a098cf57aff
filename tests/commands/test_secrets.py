"""Redaction: what reaches audit rows and logs never holds a credential."""

from __future__ import annotations

from lakeforge.commands.secrets import REDACTED, redact, redact_text


def test_values_under_credential_names_are_redacted_at_any_depth():
    value = {
        "name": "crm",
        "connection": {"password": "hunter2", "api_key": "k-123", "host": "db", "port": 5432},
        "options": [{"token": "t-1"}, {"Secret": "s"}, "plain"],
        "enabled": True,
        "ratio": 0.5,
        "nothing": None,
    }
    assert redact(value) == {
        "name": "crm",
        "connection": {"password": REDACTED, "api_key": REDACTED, "host": "db", "port": 5432},
        "options": [{"token": REDACTED}, {"Secret": REDACTED}, "plain"],
        "enabled": True,
        "ratio": 0.5,
        "nothing": None,
    }
    assert value["connection"]["password"] == "hunter2"  # a copy: the input is left alone


def test_secret_references_are_kept_since_they_are_not_secrets():
    value = {"password": "{{secrets/crm/password}}", "url": "jdbc:x://u:{{secrets/crm/pw}}@h/db"}
    assert redact(value) == value


def test_credentials_inside_text_are_redacted():
    assert redact_text("jdbc:postgresql://ana:hunter2@db:5432/shop") == (
        f"jdbc:postgresql://ana:{REDACTED}@db:5432/shop"
    )
    assert redact_text("host=db;password=hunter2;user=ana") == f"host=db;password={REDACTED};user=ana"
    assert redact_text("source orders: location = '/Volumes/main/landing/'") == (
        "source orders: location = '/Volumes/main/landing/'"
    )
    assert redact(["Token = abc", {"note": "api_key=xyz&x=1"}]) == [
        f"Token={REDACTED}",
        {"note": f"api_key={REDACTED}&x=1"},
    ]
