"""Serve the API from several worker processes, each with its own listening socket.

uvicorn's own ``--workers`` shares one socket between the workers, and whichever worker wakes
first accepts: a burst of keep-alive clients can all land on one process while the others idle
(measured with ``benchmarks/command_latency.py``: one worker of four took every connection in
some runs). Here every worker binds the port with ``SO_REUSEPORT``, so the kernel spreads new
connections over the workers by their address hash. A worker that dies is started again; a
SIGTERM or SIGINT stops them all.

    python -m api.serve --host 127.0.0.1 --port 8765 --workers 4

Settings come from the environment (``LAKEFORGE_*``), as for any ``uvicorn --factory`` worker.
Where the platform has no ``SO_REUSEPORT`` it falls back to uvicorn's shared socket.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from lakeforge.errors import ConfigurationError

APP_FACTORY = "api.app:create_app_from_env"
log = logging.getLogger(__name__)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` that other workers may bind too."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConfigurationError(
            f"cannot listen on {host}:{port} ({error.strerror})",
            field="LAKEFORGE_API_PORT",
            fix="Stop what uses the port or choose another with --port.",
        ) from None
    sock.listen(2048)
    return sock


def _worker(host: str, port: int, log_level: str) -> None:
    import uvicorn

    sock = listen(host, port)
    config = uvicorn.Config(APP_FACTORY, factory=True, log_level=log_level, access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(host: str, port: int, workers: int, *, log_level: str = "warning") -> None:
    """Serve until SIGTERM or SIGINT with ``workers`` processes; blocks."""
    if workers < 1:
        raise ConfigurationError(
            "must be at least 1", field="LAKEFORGE_API_WORKERS", fix="Use 1, or two per core."
        )
    if not hasattr(socket, "SO_REUSEPORT"):
        import uvicorn

        uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, log_level=log_level)
        return
    listen(host, port).close()  # a taken port is one clear error here, not one per worker
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited pools or threads
    stopping = False

    def start() -> BaseProcess:
        process = context.Process(target=_worker, args=(host, port, log_level), name="lakeforge-api")
        process.start()
        return process

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    processes = [start() for _ in range(workers)]
    try:
        while not stopping:
            time.sleep(0.2)
            for index, process in enumerate(processes):
                if not process.is_alive() and not stopping:
                    code = process.exitcode
                    log.warning("API worker %s exited with %s; starting another", process.pid, code)
                    processes[index] = start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes open requests, then exits
        # (Ctrl-C in a terminal reaches the workers too; they shut down the same way.)
        for process in processes:
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
                process.join()
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
