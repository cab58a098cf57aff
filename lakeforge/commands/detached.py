"""``lakeforge run --no-wait`` (and ``rerun --no-wait``): a batch that outlives the command.

Without a Databricks job to carry it, a batch runs in a LakeForge process. The CLI's own thread
would die with the CLI, and the batch with it (marked failed once its claim was seen to be gone).
So the CLI hands the batch to a background process of its own session, ``lakeforge
run-detached``, which takes over the claim before the CLI lets go of it and then runs the batch
the one way LakeForge runs a queued batch (``launch.run_claimed``). Its output goes to
``<state dir>/runs/batch-<id>.log``.

The handover, with no moment when nobody holds the batch:

1. the CLI claims the queued batch (as every surface does) and starts the process, passing it
   the write end of a pipe;
2. the process claims the batch too, then writes to the pipe;
3. the CLI returns, dropping its claim; the process's claim lasts until its runner holds the
   batch, so ``runlog.fail_stale_batches`` never sees the batch ownerless.

A process that exits before step 2, or does not get there in ``READY_SECONDS``, fails the batch
with the reason and its log file (the command layer's ``fail_unstarted``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from lakeforge.commands import launch
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Database
from lakeforge.runtime import runlog
from lakeforge.settings import Settings

# Long enough for a cold Python start on a busy two-core machine (imports and opening the store).
READY_SECONDS = 60.0
_READY = b"claimed"


def log_path(settings: Settings, batch_id: int) -> Path:
    """Where the background process of ``batch_id`` writes its output."""
    return settings.state_dir / "runs" / f"batch-{batch_id}.log"


class DetachedLauncher:
    """A launcher (``launch.set_launcher``) that starts the group's job where a workspace carries
    it, as the default one does, and otherwise runs the batch in a background process instead of
    a thread. ``started`` maps each batch it handed to a process to that process's log file."""

    def __init__(self) -> None:
        self.started: dict[int, Path] = {}

    def __call__(self, db: Database, request: launch.LaunchRequest) -> None:
        if launch.start_job(db, request):
            return
        self.started[request.batch_id] = spawn(launch.current_settings(), request)


def spawn(settings: Settings, request: launch.LaunchRequest) -> Path:
    """Start ``lakeforge run-detached`` for ``request`` in a session of its own and wait until it
    holds the claim; returns its log file. Raises ``LakeForgeError`` when it never got there."""
    log = log_path(settings, request.batch_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    ready_read, ready_write = os.pipe()
    command = [sys.executable, "-m", "lakeforge", "run-detached", "--ready-fd", str(ready_write)]
    try:
        with log.open("ab") as output:
            process = subprocess.Popen(  # noqa: S603 - this interpreter running LakeForge
                [*command, json.dumps(dataclasses.asdict(request))],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                pass_fds=(ready_write,),
                start_new_session=True,  # a Ctrl-C or a closed terminal must not stop the batch
            )
        os.close(ready_write)
        ready_write = -1
        _await_claim(ready_read, process, request.batch_id, log)
    finally:
        os.close(ready_read)
        if ready_write >= 0:
            os.close(ready_write)
    return log


def _await_claim(ready: int, process: subprocess.Popen[bytes], batch_id: int, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([ready], [], [], left)
        if not readable:
            continue
        if os.read(ready, len(_READY)) == _READY:
            return
        # The pipe closed without a word: the process ended before it could take the batch.
        raise LakeForgeError(
            f"the background process for batch {batch_id} stopped before taking it"
            f" (exit code {process.wait()})",
            field="batch_id",
            fix=f"See its output in {log}, fix the cause, then run it again.",
        )
    with contextlib.suppress(ProcessLookupError):  # too late: it must not start the batch after all
        os.killpg(process.pid, signal.SIGTERM)
    raise LakeForgeError(
        f"the background process for batch {batch_id} did not take it within {READY_SECONDS:.0f} s",
        field="batch_id",
        fix=f"See its output in {log}; on a busy machine, run without --no-wait.",
    )


def run_handed_over(db: Database, request: launch.LaunchRequest, ready_fd: int) -> None:
    """The background process's side: claim the batch, tell the CLI, then run it to its end."""
    runlog.claim_queued(db, request.batch_id)
    os.write(ready_fd, _READY)
    os.close(ready_fd)
    launch.run_claimed(db, request)
