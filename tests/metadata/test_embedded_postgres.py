"""The embedded Postgres starts, is reused, keeps its data across a restart, and stops."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess

import psycopg
import pytest

from lakeforge.metadata.embedded import OWNER_NOTE, EmbeddedPostgres

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="data outside the state folder is how root runs it")


def test_start_reuse_restart_stop_keeps_data(tmp_path):
    server = EmbeddedPostgres(tmp_path / "state")
    url = server.start()
    try:
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE kept (value text)")
            conn.execute("INSERT INTO kept VALUES ('survives')")
        assert server.start() == url, "a running server is reused, not started twice"
        assert "127.0.0.1" in url

        assert server.stop() is True
        assert not server.is_running()
        assert server.url() is None
        assert server.stop() is False, "nothing ran, so nothing was stopped"

        url = server.start()
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT value FROM kept").fetchone() == ("survives",)
    finally:
        server.destroy()
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
        server.destroy()


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


@as_root
def test_data_kept_outside_a_private_state_folder_goes_when_the_folder_goes(tmp_path):
    """As root with a state folder the server user cannot reach (mkdtemp makes them 0700), the data
    lives under /var/lib/lakeforge; once its state folder is deleted, the next start removes it."""
    gone = EmbeddedPostgres(tmp_path / "gone")
    gone.start()
    assert gone.data_dir.is_relative_to("/var/lib/lakeforge"), gone.data_dir
    assert (gone.data_dir.parent / OWNER_NOTE).read_text() == str(gone.state_dir)
    shutil.rmtree(gone.state_dir)  # deleted while its server still runs: nothing can reach it now
    kept = EmbeddedPostgres(tmp_path / "kept")
    try:
        kept.start()
        assert not gone.data_dir.parent.exists()
        assert kept.is_running() and kept.data_dir.exists()
    finally:
        kept.destroy()
    assert not kept.data_dir.parent.exists(), "destroy() deletes the data with the server"


@as_root
def test_a_state_folder_made_again_at_the_same_path_gets_a_fresh_server(tmp_path):
    first = EmbeddedPostgres(tmp_path / "state")
    with psycopg.connect(first.start()) as conn:
        conn.execute("CREATE TABLE earlier (value text)")
    first.stop()
    shutil.rmtree(first.state_dir)  # the password goes with it: the old data is of no use
    again = EmbeddedPostgres(tmp_path / "state")
    try:
        assert again.data_dir == first.data_dir
        with psycopg.connect(again.start()) as conn:
            assert conn.execute("SELECT to_regclass('earlier')").fetchone() == (None,)
    finally:
        again.destroy()
