"""How a CLI command gets a change (start, signal, terminate, cancel) applied to a database.

* If a ``duralua run`` serves the database, the change is queued in its ``requests`` table
  and the command waits (bounded, polling every 50 ms) until the engine has applied it and
  recorded the outcome, so ``sent``/``started`` mean it took effect, and a refusal (the
  workflow closed meanwhile, a duplicate id) is reported with a non-zero exit status.
* If nothing serves it, the command starts the engine in this process only until *its*
  change is committed, then stops it: workflows continue when ``duralua run`` serves the
  app. It never waits for the engine to go idle (a run in activity retry backoff would keep
  it busy for hours).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from rich.status import Status
from rich.text import Text

from ..embedded.owner import OwnerLock
from ..embedded.store import Store
from ..errors import CallError, EngineError, Failure
from .common import Ctx, err_console, warn

T = TypeVar("T")

POLL_SECONDS = 0.05
REQUEST_TIMEOUT = 10.0
# An engine driven here commits a change in milliseconds; if its commits keep failing (disk
# full) it retries, and the command gives up after this long instead of hanging.
COMMIT_TIMEOUT = 30.0
# How long the engine has to be gone before a waiting command gives up on it: its lock is
# probed between polls, and a restart (`duralua run` again) takes a moment.
ENGINE_GONE_SECONDS = 3.0


def engine_serving(db: Path) -> bool:
    """True if an engine in another process holds the database (its lock file is locked)."""
    return db.exists() and OwnerLock(db).held_elsewhere()


class Outcome:
    """What became of a change: ``state`` is ``done``, ``failed`` or ``queued`` (not applied
    within the wait; it stays queued and is applied when an engine serves the database)."""

    def __init__(self, state: str, data: dict[str, Any], *, queued_because: str = "") -> None:
        self.state = state
        self.data = data
        self.queued_because = queued_because

    @property
    def failure(self) -> Failure | None:
        if self.state != "failed":
            return None
        return Failure(str(self.data.get("error", "the engine refused the request")), str(self.data.get("kind", "")))


def queue_request(db: Path, kind: str, body: dict[str, Any]) -> int:
    store = Store(db)
    try:
        with store.transaction() as conn:
            return Store.add_request(conn, kind, body, time.time_ns())
    finally:
        store.close()


@contextmanager
def _waiting(message: str, after: float) -> Iterator[Callable[[], None]]:
    """Say what we wait for once ``after`` seconds have passed: a spinner on a terminal, one
    line otherwise (so a script's log shows why the command took a while)."""
    started = time.monotonic()
    status: Status | None = None
    said = False

    def tick() -> None:
        nonlocal status, said
        if said or time.monotonic() - started < after:
            return
        said = True
        if err_console.is_terminal:
            status = err_console.status(Text(message))  # a str would be read as markup
            status.start()
        else:
            warn(message)

    try:
        yield tick
    finally:
        if status is not None:
            status.stop()


def await_request(db: Path, request_id: int, timeout: float, what: str) -> Outcome:
    """Poll the request's outcome until the engine applied it, the wait ran out, or the
    engine is gone. Cheap: one indexed read every 50 ms."""
    deadline = time.monotonic() + timeout
    gone_since: float | None = None
    last_probe = 0.0
    store = Store(db, readonly=True)
    try:
        with _waiting(f"waiting for the engine serving {db} to apply the {what}…", 1.0) as tick:
            while True:
                found = store.request_outcome(request_id)
                if found is None:
                    return Outcome("failed", {"error": f"request {request_id} disappeared from {db}"})
                state, data = found
                if state != "queued":
                    return Outcome(state, data)
                now = time.monotonic()
                if now >= deadline:
                    return Outcome("queued", {}, queued_because=f"the engine did not apply it within {timeout:g} s")
                if now - last_probe >= 0.25:
                    last_probe = now
                    if engine_serving(db):
                        gone_since = None
                    elif gone_since is None:
                        gone_since = now
                    elif now - gone_since >= ENGINE_GONE_SECONDS:
                        return Outcome("queued", {}, queued_because="the engine stopped before applying it")
                tick()
                time.sleep(POLL_SECONDS)
    finally:
        store.close()


async def committed(change: Awaitable[T], db: Path) -> T:
    """Await an engine call that returns once its change is committed, within COMMIT_TIMEOUT."""
    try:
        async with asyncio.timeout(COMMIT_TIMEOUT):
            return await change
    except TimeoutError:
        raise EngineError(
            f"the engine could not commit the change to {db} within {COMMIT_TIMEOUT:g} s",
            hint="see the engine's messages above (disk full? database locked?)",
        ) from None


def drive(ctx: Ctx, action: Callable[[Any], Awaitable[T]], *, bounded: bool = True) -> T:
    """Run the engine in this process just for ``action`` (an engine API call that returns
    once its change is committed), then stop it."""

    async def run() -> T:
        async with ctx.app().engine(ctx.db_path()) as wf:
            change = action(wf.engine)
            return await (committed(change, ctx.db_path()) if bounded else change)

    return asyncio.run(run())


def apply(
    ctx: Ctx, kind: str, body: dict[str, Any], action: Callable[[Any], Awaitable[Any]], *, timeout: float, what: str
) -> Outcome:
    """Apply one change through the serving engine, or by driving one here (see module doc)."""
    db = ctx.db_path()
    if engine_serving(db):
        return await_request(db, queue_request(db, kind, body), timeout, what)
    try:
        value = drive(ctx, action)
    except CallError as exc:
        return Outcome("failed", {"error": exc.failure.message, "kind": exc.failure.kind})
    except EngineError:
        if not engine_serving(db):
            raise
        # An engine started between the probe and our own start: hand the change to it.
        return await_request(db, queue_request(db, kind, body), timeout, what)
    return Outcome("done", value if isinstance(value, dict) else {})
