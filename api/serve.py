"""Serve the API from several worker processes, with every connection given to the least busy one.

The parent process accepts connections and hands each one (its file descriptor, over a Unix
socket) to the worker with the fewest open connections; the worker serves it with uvicorn.
Neither uvicorn's shared socket nor one ``SO_REUSEPORT`` socket per worker balances keep-alive
clients: with a shared socket, the first worker to wake takes a whole burst; with per-worker
sockets the kernel hashes addresses, and 16 connections over 4 workers landed 2 on one worker
and 6 on another, so those clients waited twice as long (measured with
``benchmarks/command_latency.py``). Handing over costs the parent one ``sendmsg`` per connection,
not per request.

A worker that dies is started again and gets connections once it serves; a SIGTERM or SIGINT
stops them all, each finishing its open requests. Workers whose parent is killed stop as well,
rather than linger unreachable.

    python -m api.serve --host 127.0.0.1 --port 8765 --workers 4

Settings come from the environment (``LAKEFORGE_*``), as for any ``uvicorn --factory`` worker.
Where the platform cannot pass sockets between processes it falls back to uvicorn's workers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import signal
import socket
import threading
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from lakeforge.errors import ConfigurationError
from lakeforge.sockets import bind_tcp

APP_FACTORY = "api.app:create_app_from_env"
log = logging.getLogger(__name__)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or one clear error naming the setting."""
    sock = bind_tcp(
        host, port, setting="LAKEFORGE_API_PORT", fix="Stop what uses the port or choose another with --port."
    )
    sock.listen(2048)
    return sock


# -- worker side -------------------------------------------------------------------------------
def _worker(channel: socket.socket, board: _Board, index: int, log_level: str) -> None:
    import uvicorn

    class HandedConnectionsServer(uvicorn.Server):
        """uvicorn serving the connections the parent hands over, instead of listening itself."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=[])  # lifespan and state; no listening socket
            loop = asyncio.get_running_loop()
            config = self.config
            base = config.http_protocol_class

            def release() -> None:
                board.closed[index] += 1

            class CountedProtocol(base):  # type: ignore[valid-type,misc]
                def connection_lost(self, exc: Exception | None) -> None:
                    super().connection_lost(exc)
                    release()

            def protocol() -> asyncio.Protocol:
                # As uvicorn.Server.startup builds its own (uvicorn is pinned; tests cover this).
                return CountedProtocol(
                    config=config, server_state=self.server_state, app_state=self.lifespan.state, _loop=loop
                )

            def serve(conn: socket.socket) -> None:
                def lost_before_serving(task: asyncio.Task[Any]) -> None:
                    if not task.cancelled() and task.exception() is not None:
                        release()

                task = loop.create_task(loop.connect_accepted_socket(protocol, conn))
                task.add_done_callback(lost_before_serving)

            def receive() -> None:
                while True:
                    try:
                        message, fds, _, _ = socket.recv_fds(channel, 1, 16)
                    except (BlockingIOError, InterruptedError):
                        return
                    if not message and not fds:  # the parent is gone: finish open requests, exit
                        loop.remove_reader(channel.fileno())
                        self.should_exit = True
                        return
                    for fd in fds:
                        conn = socket.socket(fileno=fd)
                        conn.setblocking(False)
                        serve(conn)

            channel.setblocking(False)
            loop.add_reader(channel.fileno(), receive)
            board.ready[index] = 1  # the parent may hand connections here now

    config = uvicorn.Config(APP_FACTORY, factory=True, log_level=log_level, access_log=False)
    HandedConnectionsServer(config).run()


# -- parent side -------------------------------------------------------------------------------
class _Board:
    """Per-worker counters in shared memory, each slot written by one process only, so no lock
    is shared with a worker (a worker killed while holding one would stall the parent)."""

    def __init__(self, context: Any, count: int) -> None:
        self.handed = context.RawArray("q", count)  # written by the parent
        self.closed = context.RawArray("q", count)  # written by the worker
        self.ready = context.RawArray("b", count)  # written by the worker once it serves

    def reset(self, index: int) -> None:
        self.handed[index] = self.closed[index] = self.ready[index] = 0

    def least_busy(self, candidates: list[int]) -> int:
        serving = [i for i in candidates if self.ready[i]] or candidates
        return min(serving, key=lambda i: self.handed[i] - self.closed[i])


class _Workers:
    """The worker processes and the sockets their connections are handed over on."""

    def __init__(self, count: int, log_level: str) -> None:
        self.context = multiprocessing.get_context("spawn")  # fresh interpreters: no inherited pools
        self.board = _Board(self.context, count)
        self.log_level = log_level
        self.channels: list[socket.socket | None] = [None] * count
        self.processes: list[BaseProcess | None] = [None] * count

    def start(self, index: int) -> None:
        # Sequenced packets: one connection per message, and an end of file when either side dies.
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.settimeout(1.0)  # a worker that stopped reading must not stall every new connection
        self.board.reset(index)
        process = self.context.Process(
            target=_worker, args=(theirs, self.board, index, self.log_level), name="lakeforge-api"
        )
        process.start()
        theirs.close()
        previous, self.channels[index], self.processes[index] = self.channels[index], ours, process
        if previous is not None:
            previous.close()

    def hand_over(self, conn: socket.socket) -> None:
        """Give ``conn`` to the least busy worker that takes it; close it if none does."""
        candidates = list(range(len(self.channels)))
        while candidates:
            index = self.board.least_busy(candidates)
            channel = self.channels[index]
            try:
                if channel is None:
                    raise OSError("not started")
                socket.send_fds(channel, [b"c"], [conn.fileno()])
            except OSError:  # that worker is gone or stuck: the next one
                candidates.remove(index)
                continue
            self.board.handed[index] += 1
            return

    def restart_dead(self, stopping: threading.Event) -> None:
        for index, process in enumerate(self.processes):
            if process is not None and not process.is_alive() and not stopping.is_set():
                log.warning("API worker %s exited with %s; starting another", process.pid, process.exitcode)
                self.start(index)

    def stop(self) -> None:
        live = [p for p in self.processes if p is not None and p.is_alive()]
        for process in live:
            process.terminate()  # SIGTERM: uvicorn finishes open requests, then exits
        for process in live:
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
                process.join()
        for channel in self.channels:
            if channel is not None:
                channel.close()


def _accept_forever(listener: socket.socket, workers: _Workers) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return  # the listener was shut down
        with conn:  # the worker holds its own copy once handed over
            workers.hand_over(conn)


def run_workers(host: str, port: int, workers: int, *, log_level: str = "warning") -> None:
    """Serve until SIGTERM or SIGINT with ``workers`` processes; blocks."""
    if workers < 1:
        raise ConfigurationError(
            "must be at least 1", field="LAKEFORGE_API_WORKERS", fix="Use 1, or two per core."
        )
    if not hasattr(socket, "send_fds"):
        import uvicorn

        uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, log_level=log_level)
        return
    listener = listen(host, port)
    pool = _Workers(workers, log_level)
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        for index in range(workers):
            pool.start(index)
        threading.Thread(target=_accept_forever, args=(listener, pool), name="accept", daemon=True).start()
        while not stopping.wait(0.2):
            pool.restart_dead(stopping)
    finally:
        # Stop accepting first (shutdown wakes the blocked accept), then let workers finish.
        with contextlib.suppress(OSError):  # already closed
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        pool.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    run_workers(args.host, args.port, args.workers, log_level=args.log_level)


if __name__ == "__main__":
    main()
