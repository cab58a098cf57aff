"""The embedded Postgres starts, is reused, keeps its data across a restart, and stops."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess

import psycopg
import pytest

from lakeforge.metadata.embedded import EmbeddedPostgres


def test_start_reuse_restart_stop_keeps_data(tmp_path):
    server = EmbeddedPostgres(tmp_path / "state")
    url = server.start()
    try:
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE kept (value text)")
            conn.execute("INSERT INTO kept VALUES ('survives')")
        assert server.start() == url, "a running server is reused, not started twice"
        assert "127.0.0.1" in url

        server.stop()
        assert not server.is_running()
        assert server.url() is None

        url = server.start()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT value FROM kept").fetchone() == ("survives",)
    finally:
        server.stop()
    assert not server.is_running()


def test_server_listens_on_loopback_only_and_needs_a_password(tmp_path):
    server = EmbeddedPostgres(tmp_path / "state")
    url = server.start()
    try:
        with psycopg.connect(url) as conn:
            listen = conn.execute("SHOW listen_addresses").fetchone()
            sockets = conn.execute("SHOW unix_socket_directories").fetchone()
        assert listen == ("127.0.0.1",)
        assert sockets == ("",)
        info = psycopg.conninfo.conninfo_to_dict(url)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(
                host="127.0.0.1", port=info["port"], user="postgres", password="wrong", dbname="lakeforge"
            )
        assert oct((server.home / "server.json").stat().st_mode & 0o777) == "0o600"
    finally:
        server.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to an ordinary user needs root")
def test_works_as_an_ordinary_user(tmp_path):
    """Run the same start/stop as a non-root account (what a laptop user is), in a forked child."""
    name = "lakeforge-tester"
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)
        account = pwd.getpwnam(name)
    home = tmp_path / "user-state"
    home.mkdir()
    shutil.chown(home, name)
    for parent in [tmp_path, *tmp_path.parents]:
        parent.chmod(parent.stat().st_mode | 0o005)
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child becomes the ordinary user; the interpreter is already loaded
        code = 1
        try:
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            server = EmbeddedPostgres(home)
            url = server.start()
            with psycopg.connect(url) as conn:
                user = conn.execute("SELECT current_user").fetchone()[0]
            server.stop()
            os.write(write_end, f"{user}:{server.data_dir}".encode())
            code = 0
        except BaseException as error:
            os.write(write_end, f"error:{error!r}".encode())
        finally:
            os._exit(code)
    os.close(write_end)
    _, status = os.waitpid(child, 0)
    message = os.read(read_end, 4096).decode()
    assert os.waitstatus_to_exitcode(status) == 0, message
    assert message == f"postgres:{home / 'postgres' / 'data'}"
