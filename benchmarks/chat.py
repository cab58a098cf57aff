"""Chat benchmarks: slash-command acknowledgement under 20 concurrent requests, rule-parser throughput.

Deploys like production: the API (with the Slack handler) is served by uvicorn in its own
process (``api.app:create_app_from_env --factory``, settings from ``LAKEFORGE_*`` variables),
against an embedded Postgres and a Slack stand-in that receives the lazy listeners' answers.
This process only generates load, with aiohttp (light on CPU, so it skews little what it
measures), signs requests like Slack does, and times each HTTP answer (the ack). The lazy work
of every acked command (parse, plan, answer to the stand-in) runs in the server meanwhile, as
it would under a real burst.

Baseline, measured in the same run under the same concurrency: ``GET /api/v1/health`` (one
database round trip, no Slack work). Goal: ack p99 <= 300 ms at 20 concurrent requests.

    uv run python benchmarks/chat.py [--rounds 10] [--workers 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.support import percentile, serve_api  # noqa: E402
from lakeforge.metadata.db import open_database  # noqa: E402
from lakeforge.metadata.embedded import EmbeddedPostgres  # noqa: E402
from lakeforge.metadata.migrate import migrate  # noqa: E402
from lakeforge.nlu.rules import parse_rules  # noqa: E402
from lakeforge.settings import load_settings  # noqa: E402
from tests.chat.phrasings import KNOWN, PHRASINGS  # noqa: E402
from tests.chat.slack_standin import SlackStandin  # noqa: E402
from tests.chat.support import BOT_TOKEN, SIGNING_SECRET, seed, signed_headers, slash_body  # noqa: E402

CONCURRENCY = 20
GOAL_P99_MS = 300.0
TEXTS = ["pause sales", "runs", "run orders", "schedule sales every day at 3am", "show orders", "help"]


Call = Callable[[aiohttp.ClientSession, int], Awaitable[None]]


async def drive(url: str, call: Call, total: int, concurrency: int) -> list[float]:
    """``total`` calls from ``concurrency`` clients, each waiting for its answer before the next."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector) as session:
        counter = iter(range(total))

        async def client() -> None:
            for i in counter:
                started = time.perf_counter()
                await call(session, i)
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


def report(label: str, latencies: list[float], concurrency: int) -> tuple[float, float]:
    p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
    print(f"{label:<28} c={concurrency:<3} n={len(latencies):<4} p50={p50:7.1f} ms  p99={p99:7.1f} ms")
    return p50, p99


def make_calls(slack: SlackStandin) -> tuple[Call, Call]:
    async def slash(session: aiohttp.ClientSession, i: int) -> None:
        body = slash_body(TEXTS[i % len(TEXTS)], user="U0ANA", response_url=slack.url)
        async with session.post("/slack/events", data=body.encode(), headers=signed_headers(body)) as answer:
            text = await answer.read()
            assert answer.status == 200, text

    async def health(session: aiohttp.ClientSession, i: int) -> None:
        async with session.get("/api/v1/health") as answer:
            await answer.read()
            assert answer.status == 200

    return slash, health


def answered(slack: SlackStandin) -> int:
    return sum(
        1 for call in slack.calls if call.method.startswith("response/") or call.method == "views.open"
    )


def bench_ack(rounds: int, workers: int) -> None:
    with tempfile.TemporaryDirectory(prefix="lakeforge-chat-bench-") as tmp:
        embedded = EmbeddedPostgres(Path(tmp) / "pg")
        url = embedded.start()
        admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE chat_bench")
        database_url = psycopg.conninfo.make_conninfo(url, dbname="chat_bench")
        state_dir = Path(tmp) / "state"
        with open_database(load_settings(database_url=database_url, state_dir=state_dir)) as db:
            migrate(db)
            seed(db)
        slack = SlackStandin().start()
        # What an operator sets for `lakeforge api up` (the workers read the same variables).
        settings_env = {
            "LAKEFORGE_DATABASE_URL": database_url,
            "LAKEFORGE_STATE_DIR": str(state_dir),
            "LAKEFORGE_SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "LAKEFORGE_SLACK_BOT_TOKEN": BOT_TOKEN,
            "LAKEFORGE_SLACK_API_URL": slack.api_url,
        }
        try:
            with serve_api(settings_env, workers=workers) as (base_url, server):
                slash, health = make_calls(slack)
                # Warm-up: pooled connections, first-use imports, the known-names cache.
                asyncio.run(drive(base_url, health, 40, 4))
                asyncio.run(drive(base_url, slash, 20, 2))
                settle(slack, 20)
                print(
                    f"API: uvicorn, {workers} worker process(es); load: aiohttp; cores={os.cpu_count()}, "
                    f"load average {os.getloadavg()[0]:.1f}"
                )
                report("baseline GET /health", asyncio.run(drive(base_url, health, 20, 1)), 1)
                report("slash command ack", asyncio.run(drive(base_url, slash, 20, 1)), 1)
                settle(slack, 40)
                total = CONCURRENCY * rounds
                cpu = server_cpu(server.pid)
                health_burst = asyncio.run(drive(base_url, health, total, CONCURRENCY))
                _, base99 = report("baseline GET /health", health_burst, CONCURRENCY)
                health_cpu, cpu = server_cpu(server.pid) - cpu, server_cpu(server.pid)
                started = time.perf_counter()
                _, ack99 = report(
                    "slash command ack", asyncio.run(drive(base_url, slash, total, CONCURRENCY)), CONCURRENCY
                )
                drained = settle(slack, 40 + total)
                command_cpu = server_cpu(server.pid) - cpu
                print(
                    f"lazy answers: all {total} posted to the response_url "
                    f"{drained - started:.1f} s after the burst began"
                )
                # CPU time does not depend on what else the machine runs; latencies do.
                print(
                    f"API server CPU per request: /health {health_cpu / total * 1000:.1f} ms, "
                    f"slash command (ack + its lazy work) {command_cpu / total * 1000:.1f} ms"
                )
                print(
                    f"ack p99 / health p99 = {ack99 / base99:.2f}x; "
                    f"goal p99 <= {GOAL_P99_MS:.0f} ms: {'met' if ack99 <= GOAL_P99_MS else 'NOT met'}; "
                    f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
                )
        finally:
            slack.stop()
            embedded.destroy()


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by the API server process and its workers."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(stat.parent.name) == pid or int(fields[1]) == pid:  # fields[1]: parent pid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def settle(slack: SlackStandin, expected: int, timeout: float = 120.0) -> float:
    """Wait until the server's lazy listeners have answered ``expected`` commands in all."""
    deadline = time.monotonic() + timeout
    while answered(slack) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {answered(slack)} of {expected} commands were answered")
        time.sleep(0.05)
    return time.perf_counter()


def bench_parser(seconds: float = 2.0) -> None:
    texts = [text for text, _, _ in PHRASINGS]
    parse_rules(texts[0], known=KNOWN)
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for text in texts:
            parse_rules(text, known=KNOWN)
        count += len(texts)
    elapsed = time.perf_counter() - started
    # Baseline: tokenising the same texts with a regex (the floor any parser pays).
    word = re.compile(r"\w+")
    base_started = time.perf_counter()
    for _ in range(max(1, count // len(texts))):
        for text in texts:
            word.findall(text.lower())
    base = time.perf_counter() - base_started
    print(
        f"rule parser: {count / elapsed:,.0f} phrases/s ({elapsed / count * 1e6:.0f} µs each, "
        f"{elapsed / base:.0f}x a bare regex tokenise)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10, help="requests per concurrent client")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (api_workers)")
    args = parser.parse_args()
    bench_parser()
    bench_ack(args.rounds, args.workers)
