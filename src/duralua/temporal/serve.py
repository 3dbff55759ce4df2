"""``duralua run --engine temporal``: serve an app's workflows and activities on Temporal."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..codec import to_plain
from ..errors import CallError
from .worker import TemporalHost

if TYPE_CHECKING:
    from ..app import App


def started_workers(app: App) -> list[str]:
    from ..runtime.boot import explicit_auto_start

    entries = app.registry.entries
    return [w.id for w in app.catalog.workers.values()
            if explicit_auto_start(entries[w.id]) and (w.client_id not in entries
                                                       or explicit_auto_start(entries[w.client_id]))]  # fmt: skip


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def serve_temporal(app: App, *, then_call: str | None = None, control: str | Path | None = None) -> None:
    """Connect the app's clients, run its workers until SIGINT/SIGTERM, then stop cleanly.

    With ``then_call`` the function entry is called once the workers run, its result is printed
    as JSON on stdout and serving stops (exit status 1 if the call failed).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass
    try:
        # Process hosts, services and the CLI's control channel (``control``: the database path).
        # A worker whose lifecycle says auto_start: false (or whose client's does) is not started.
        async with TemporalHost(app, workers=started_workers(app)) as host, \
                app.serve_runtime(control=control, notify=_note):  # fmt: skip
            workers = ", ".join(
                f"{w.id} (queue {w.task_queue})" for w in app.catalog.workers.values() if w.id in host.workers
            )
            print(
                f"duralua serving on Temporal — workers: {workers or 'none'}. Ctrl-C to stop.",
                file=sys.stderr,
                flush=True,
            )
            if then_call is not None:
                try:
                    result = await app.acall(then_call)
                except CallError as exc:
                    kind = exc.failure.kind or "error"
                    print(f"{kind}: {exc.failure.message}", file=sys.stderr, flush=True)
                    raise SystemExit(1) from None
                sys.stdout.write(json.dumps(to_plain(result), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
                sys.stdout.flush()
                return
            await stop.wait()
            print("stopping…", file=sys.stderr, flush=True)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
