"""Lakebase passwords are one-hour tokens: every new pooled connection must mint a fresh one.

The stand-in is a real Postgres role whose password is rotated each time a token is
minted, so a connection opened with a stale token would be refused.
"""

from __future__ import annotations

import secrets
import threading
import time

import psycopg

from lakeforge.metadata.lakebase import lakebase_pool
from lakeforge.settings import load_settings


def test_each_new_connection_gets_a_fresh_token(pg_admin_url, database_url, tmp_path):
    role = f"lb_{secrets.token_hex(4)}"
    minted: list[str] = []
    rotation = threading.Lock()  # the pool opens connections from several threads

    def rotate_and_mint() -> str:
        token = secrets.token_urlsafe(32)
        with rotation, psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(
                psycopg.sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    psycopg.sql.Identifier(role), psycopg.sql.Literal(token)
                )
            )
        minted.append(token)
        return token

    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN").format(psycopg.sql.Identifier(role)))
    info = psycopg.conninfo.conninfo_to_dict(database_url)
    settings = load_settings(
        state_dir=tmp_path,
        lakebase_database=info["dbname"],
        pool_min_size=0,
        pool_max_size=3,
        pool_max_lifetime_seconds=1,
    )
    pool = lakebase_pool(
        settings,
        host="127.0.0.1",
        port=int(info["port"]),
        user=role,
        mint_token=rotate_and_mint,
        sslmode="disable",
    )
    try:
        with pool.connection() as first, pool.connection() as second, pool.connection() as third:
            users = {c.execute("SELECT current_user AS u").fetchone()["u"] for c in (first, second, third)}
        assert users == {role}
        assert len(minted) == 3 and len(set(minted)) == 3
        # Connections older than max_lifetime are replaced, again with a new token.
        time.sleep(1.5)
        pool.check()
        deadline = time.monotonic() + 20
        while len(minted) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        with pool.connection() as again:
            assert again.execute("SELECT current_user AS u").fetchone()["u"] == role
        assert len(minted) >= 4
        assert minted[-1] not in minted[:3]
    finally:
        pool.close()
