"""Chat benchmarks: slash-command acknowledgement under 20 concurrent requests, rule-parser throughput.

Runs the real API app (uvicorn) with the Slack handler against an embedded Postgres and a Slack
stand-in, signs requests like Slack does, and measures the time to the HTTP answer (the ack).
The baseline, measured in the same run under the same concurrency, is ``GET /api/v1/health``
(one database round trip, no Slack work). Goal: ack p99 <= 300 ms.

    uv run python benchmarks/chat.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg

from lakeforge.metadata.db import open_database
from lakeforge.metadata.embedded import EmbeddedPostgres
from lakeforge.metadata.migrate import migrate
from lakeforge.nlu.rules import parse_rules
from lakeforge.settings import load_settings
from tests.chat.phrasings import KNOWN, PHRASINGS
from tests.chat.slack_standin import SlackStandin
from tests.chat.support import BOT_TOKEN, SIGNING_SECRET, LiveServer, seed, signed_headers, slash_body

CONCURRENCY = 20
TEXTS = ["pause sales", "runs", "run orders", "schedule sales every day at 3am", "show orders", "help"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def measure(label: str, make_call: object, total: int, concurrency: int = CONCURRENCY) -> list[float]:
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda i: timed(lambda: make_call(i)), range(total)))  # type: ignore[operator]
    print(
        f"{label:<28} c={concurrency:<3} n={total:<4} "
        f"p50={statistics.median(results):7.1f} ms  p99={percentile(results, 0.99):7.1f} ms"
    )
    return results


def bench_ack(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server_pg = EmbeddedPostgres(Path(tmp) / "pg")
        url = server_pg.start()
        admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE chat_bench")
        slack = SlackStandin().start()
        settings = load_settings(
            database_url=psycopg.conninfo.make_conninfo(url, dbname="chat_bench"),
            state_dir=Path(tmp) / "state",
            slack_signing_secret=SIGNING_SECRET,
            slack_bot_token=BOT_TOKEN,
            slack_api_url=slack.api_url,
            pool_max_size=20,
        )
        from api.app import create_app

        with open_database(settings) as db:
            migrate(db)
            seed(db)
            server = LiveServer(create_app(settings, db=db)).start()
            try:
                with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=CONCURRENCY)) as http:

                    def slash(i: int) -> None:
                        body = slash_body(TEXTS[i % len(TEXTS)], user="U0ANA", response_url=slack.url)
                        answer = http.post(
                            server.url + "/slack/events", content=body, headers=signed_headers(body)
                        )
                        assert answer.status_code == 200, answer.text

                    def health(i: int) -> None:
                        assert http.get(server.url + "/api/v1/health").status_code == 200

                    for i in range(10):  # warm up connections and code paths
                        slash(i)
                        health(i)
                    measure("baseline GET /health", health, 20, concurrency=1)
                    measure("slash command ack", slash, 20, concurrency=1)
                    time.sleep(1)
                    total = CONCURRENCY * rounds
                    base = measure("baseline GET /health", health, total)
                    acks = measure("slash command ack", slash, total)
                    print(
                        f"ack p99 / health p99 = {percentile(acks, 0.99) / percentile(base, 0.99):.2f}x; "
                        f"goal p99 <= 300 ms: {'met' if percentile(acks, 0.99) <= 300 else 'NOT met'}"
                    )
                    time.sleep(8)  # let lazy listeners finish their plans before shutting down
            finally:
                server.stop()
                slack.stop()
        server_pg.stop()


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
    import re

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
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10, help="requests per concurrent client")
    args = parser.parse_args()
    bench_parser()
    bench_ack(args.rounds)
