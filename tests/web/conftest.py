"""The panel end to end: real Postgres, the real API (uvicorn on a free port), the built panel
(``next start`` on a free port) and Debian's Chromium driven by Playwright.

The servers live for the whole module; each test gets its own browser context (fresh storage).
Screenshots go to ``test-artifacts/web/``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import expect

from lakeforge.metadata.db import Database, open_database
from lakeforge.settings import PROJECT_ROOT, Settings, load_settings

WEB_DIR = PROJECT_ROOT / "web"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
# Headless, and no traffic anywhere but 127.0.0.1 (Chromium otherwise looks up Google hosts).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]

pytestmark = pytest.mark.browser

# The machine is shared and small: give the page time before an assertion fails.
expect.set_options(timeout=20_000)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_http(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@dataclass
class Stack:
    """The running servers and an admin token."""

    api_url: str
    panel_url: str
    token: str
    db: Database
    settings: Settings
    data_dir: Path

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url + "/api/v1", headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )

    def command(self, intent: dict[str, Any]) -> dict[str, Any]:
        """Apply ``intent`` as the admin; a destructive one is confirmed with its plan's token."""
        with self.client() as client:
            answer = client.post("/commands", json={"intent": intent})
            if answer.status_code == 202:
                token = answer.json()["confirm_token"]
                answer = client.post("/commands", json={"intent": intent, "confirm_token": token})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


class ApiThread:
    """uvicorn serving the API app in a daemon thread."""

    def __init__(self, settings: Settings, db: Database) -> None:
        import uvicorn

        from api.app import create_app

        self.port = free_port()
        config = uvicorn.Config(
            create_app(settings, db), host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="web-e2e-api", daemon=True)

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_panel(api_url: str, port: int, *, direct: bool = True) -> tuple[subprocess.Popen[bytes], str]:
    """``next start`` on ``port``. ``direct``: the browser calls the API itself (CORS), else it goes
    through the panel's /api/v1 proxy. Needs ``make web`` first."""
    if not (WEB_DIR / ".next" / "BUILD_ID").exists():
        pytest.fail("the panel is not built: run `make web` (npm ci + next build) first")
    env = {**os.environ, "PANEL_API_URL": api_url, "NEXT_TELEMETRY_DISABLED": "1", "PORT": str(port)}
    env.pop("PANEL_BROWSER_API_URL", None)
    if direct:
        env["PANEL_BROWSER_API_URL"] = api_url
    process = subprocess.Popen(
        [str(WEB_DIR / "node_modules" / ".bin" / "next"), "start", "-p", str(port), "-H", "127.0.0.1"],
        cwd=WEB_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/signin", process)
    except Exception:
        process.terminate()
        raise
    return process, url


@pytest.fixture(scope="module")
def stack(
    pg_admin_url: str, template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    from lakeforge.commands.access import create_token

    name = f"web_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template_database}")
    state = tmp_path_factory.mktemp("web-state")
    panel_port = free_port()
    settings = load_settings(
        database_url=psycopg.conninfo.make_conninfo(pg_admin_url, dbname=name),
        state_dir=state,
        engine="embedded",
        api_cors_origins=(f"http://127.0.0.1:{panel_port}",),
        workspace_port=free_port(),  # a test that needs the workspace starts one there
    )
    try:
        from lakeforge.commands import launch

        launch.configure(settings)
    except ImportError:
        pass
    db = open_database(settings)
    token = create_token(db, "panel_admin", "admin")
    api = ApiThread(settings, db)
    api_url = api.start()
    panel, panel_url = start_panel(api_url, panel_port)
    data_dir = tmp_path_factory.mktemp("web-data")
    try:
        yield Stack(api_url, panel_url, token, db, settings, data_dir)
    finally:
        panel.terminate()
        try:
            panel.wait(timeout=10)
        except subprocess.TimeoutExpired:
            panel.kill()
        api.stop()
        db.close()
        with psycopg.connect(pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `apt-get install -y chromium` (make test does it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, stack: Stack) -> Iterator[Any]:
    """A fresh browser context (empty storage) showing the panel, not yet signed in."""
    context = chromium.new_context(base_url=stack.panel_url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def sign_in(page: Any, token: str) -> None:
    page.goto("/signin")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: not url.endswith("/signin") and "/signin?" not in url)


UNREADABLE_JS = (Path(__file__).parent / "unreadable.js").read_text()


def unreadable_text(page: Any) -> list[str]:
    """The texts on screen below WCAG AA contrast against their background (empty when all read)."""
    return list(page.evaluate(UNREADABLE_JS))


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def write_csv(folder: Path, name: str, rows: int = 20) -> Path:
    path = folder / name / "part-0.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = [f"{i},{(i * 7) % 50 - 5},{'NL' if i % 2 else 'DE'}" for i in range(1, rows + 1)]
    lines = ["id,amount,country", *body]
    path.write_text("\n".join(lines) + "\n")
    return path.parent


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:6]}"


def make_group(stack: Stack) -> str:
    name = unique("grp")
    stack.command({"kind": "create_group", "name": name, "description": "made by the panel tests"})
    return name


def make_source(stack: Stack, group: str, name: str | None = None, **extra: Any) -> str:
    """A csv source (``name``, or a unique one) over a file ``write_csv`` made (it has a header
    row); ``extra`` adds fields."""
    name = name or unique("src")
    stack.command(
        {
            "kind": "register_source",
            "name": name,
            "group": group,
            "format": "csv",
            "location": str(write_csv(stack.data_dir, name)),
            "format_options": {"header": True},
            **extra,
        }
    )
    return name
