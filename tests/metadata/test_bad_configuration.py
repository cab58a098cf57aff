"""Bad configuration ends with one sentence naming the setting and the fix, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _lakeforge(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEFORGE_", "DATABRICKS_"))}
    return subprocess.run(
        [sys.executable, "-m", "lakeforge", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "setting", "hint"),
    [
        (
            {"LAKEFORGE_DATABASE_URL": "postgresql://lf:secret@127.0.0.1:1/lakeforge"},
            "LAKEFORGE_DATABASE_URL",
            "Check the host",
        ),
        ({"LAKEFORGE_ENGINE": "turbo"}, "LAKEFORGE_ENGINE", "'auto', 'embedded' or 'spark'"),
        ({"LAKEFORGE_ENGIN": "spark"}, "LAKEFORGE_ENGIN", "not a LakeForge setting"),
        ({"LAKEFORGE_STATE_DIRR": "/tmp/x"}, "LAKEFORGE_STATE_DIRR", "Did you mean 'LAKEFORGE_STATE_DIR'?"),
        ({"LAKEFORGE_STATE_DIR": "/proc/lakeforge-state"}, "LAKEFORGE_STATE_DIR", "not writable"),
    ],
)
def test_bad_settings_give_one_clear_sentence(env, setting, hint):
    result = _lakeforge("db", "migrate", **env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert setting in lines[0] and hint in lines[0]
    assert "secret" not in result.stderr, "passwords never appear in messages"


def test_an_unmigrated_store_says_to_migrate(tmp_path, pg_admin_url):
    import psycopg

    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS never_migrated")
        conn.execute("CREATE DATABASE never_migrated")
    url = psycopg.conninfo.make_conninfo(pg_admin_url, dbname="never_migrated")
    result = _lakeforge("runs", LAKEFORGE_DATABASE_URL=url, LAKEFORGE_STATE_DIR=str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "lakeforge db migrate" in result.stderr
