"""How fast the panel's runs screen shows its first page, with 100,000 batches in the run log.

Measured in Debian's Chromium with the browser's own clock: ``performance.mark("runs-rendered")``
is set by the runs screen when its first page of rows is on screen, and its ``startTime`` counts
from the start of the navigation (so it covers HTML, scripts, the API round trip through the panel's
proxy, the query and rendering). Navigation timing (DOMContentLoaded, load) is printed beside it.
The baseline is the same screen over an empty run log, measured in the same run.

    uv run python benchmarks/panel.py [--batches 100000] [--loads 7]

Needs the built panel (``make web``) and /usr/bin/chromium. Goal: first page < 1 s with 100k batches.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lakeforge.commands.access import create_token
from lakeforge.metadata.db import open_database
from lakeforge.metadata.embedded import EmbeddedPostgres
from lakeforge.metadata.migrate import migrate
from lakeforge.settings import load_settings
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, ApiThread, free_port, start_panel

FILL = """
INSERT INTO lakeforge_log.batch_run
    (group_name, source_name, trigger, engine, status, requested_by, rows_in, rows_out, error,
     created_at, started_at, ended_at)
SELECT 'group_' || (i %% 25),
       CASE WHEN i %% 3 = 0 THEN 'source_' || (i %% 200) END,
       (ARRAY['schedule', 'manual', 'rerun', 'api'])[1 + i %% 4],
       'embedded',
       (ARRAY['succeeded', 'succeeded', 'succeeded', 'failed', 'skipped'])[1 + i %% 5],
       'bench',
       i * 10, i * 10 - (i %% 7),
       CASE WHEN i %% 5 = 3 THEN 'bronze: column amount not found' END,
       now() - make_interval(mins => 100001 - i),
       now() - make_interval(mins => 100001 - i),
       now() - make_interval(mins => 100001 - i) + make_interval(secs => 30 + i %% 300)
FROM generate_series(1, %s) AS i
"""


def measure(chromium: Any, label: str, db_url: str, state: Path, loads: int) -> dict[str, Any]:
    panel_port = free_port()
    settings = load_settings(
        database_url=db_url,
        state_dir=state,
        engine="embedded",
        api_cors_origins=(f"http://127.0.0.1:{panel_port}",),
    )
    db = open_database(settings)
    token = create_token(db, "bench_viewer", "viewer")
    api = ApiThread(settings, db)
    api_url = api.start()
    panel, panel_url = start_panel(api_url, panel_port, direct=True)
    try:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
            api_ms = []
            for _ in range(loads):
                started = time.perf_counter()
                answer = client.get(f"{api_url}/api/v1/runs", params={"limit": 50})
                api_ms.append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 200, answer.text
            rows_on_page = len(answer.json()["items"])
        context = chromium.new_context(base_url=panel_url)
        context.add_init_script(f"localStorage.setItem('lakeforge.token', {token!r})")
        page = context.new_page()
        page.goto("/runs")  # warm-up: first compile of route code in the server, disk caches
        page.wait_for_function("performance.getEntriesByName('runs-rendered').length > 0", timeout=30_000)
        rendered, dcl, load, fetch_start, fetch = [], [], [], [], []
        for _ in range(loads):
            page.goto("/runs")
            page.wait_for_function("performance.getEntriesByName('runs-rendered').length > 0", timeout=30_000)
            timing = page.evaluate(
                """() => {
                    const nav = performance.getEntriesByType('navigation')[0];
                    const call = performance.getEntriesByType('resource')
                        .find((e) => e.name.includes('/api/v1/runs'));
                    return {rendered: performance.getEntriesByName('runs-rendered')[0].startTime,
                            dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
                            fetch_start: call ? call.startTime : -1,
                            fetch: call ? call.responseEnd - call.startTime : -1};
                }"""
            )
            rendered.append(timing["rendered"])
            dcl.append(timing["dcl"])
            load.append(timing["load"])
            fetch_start.append(timing["fetch_start"])
            fetch.append(timing["fetch"])
        rows_shown = page.locator("[data-batch]").count()
        context.close()
    finally:
        panel.terminate()
        panel.wait(timeout=10)
        api.stop()
        db.close()
    return {
        "label": label,
        "rows_on_page": rows_on_page,
        "rows_shown": rows_shown,
        "rendered": rendered,
        "dcl": dcl,
        "load": load,
        "fetch_start": fetch_start,
        "fetch": fetch,
        "api": api_ms,
    }


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):7.1f} ms   max {max(values):7.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=100_000)
    parser.add_argument("--loads", type=int, default=7, help="measured page loads per database")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="lf-panel-bench-") as tmp:
        root = Path(tmp)
        server = EmbeddedPostgres(root / "pg")
        server.start()
        try:
            admin = psycopg.conninfo.make_conninfo(server.url() or "", dbname="postgres")
            urls = {}
            for name in ("bench_empty", "bench_full"):
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f"CREATE DATABASE {name}")
                urls[name] = psycopg.conninfo.make_conninfo(admin, dbname=name)
                settings = load_settings(database_url=urls[name], state_dir=root / name)
                with open_database(settings) as db:
                    migrate(db)
            started = time.perf_counter()
            with psycopg.connect(urls["bench_full"], autocommit=True) as conn:
                conn.execute(FILL, (args.batches,))
                conn.execute("ANALYZE lakeforge_log.batch_run")
            took = time.perf_counter() - started
            print(f"filled the run log with {args.batches:,} batches in {took:.1f} s")

            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                full = f"{args.batches:,} batches"
                results = [
                    measure(chromium, "empty run log", urls["bench_empty"], root / "s1", args.loads),
                    measure(chromium, full, urls["bench_full"], root / "s2", args.loads),
                ]
                chromium.close()
        finally:
            server.destroy()

    print(f"\nruns screen, first page ({args.loads} loads each, Chromium navigation timing)")
    for result in results:
        print(f"  {result['label']:>18}: rows on screen {result['rows_shown']:>3}")
        print(f"    first page rendered   {summary(result['rendered'])}")
        print(f"    DOMContentLoaded      {summary(result['dcl'])}")
        print(f"    load event            {summary(result['load'])}")
        print(f"    runs fetch starts at  {summary(result['fetch_start'])}")
        print(f"    runs fetch (browser) {summary(result['fetch'])}")
        print(f"    GET /api/v1/runs      {summary(result['api'])}  (direct to the API)")
    base, full = (statistics.median(r["rendered"]) for r in results)
    print(f"\nratio {results[1]['label']} / empty: {full / base:.2f}x (first page rendered, medians)")
    verdict = "met" if max(results[1]["rendered"]) < 1000 else "NOT met"
    print(f"goal (first page < 1000 ms with {args.batches:,} batches, every load): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
