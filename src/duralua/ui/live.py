"""Live refresh: what the UI's server-sent event stream is fed with.

* :class:`BusFeed` — an engine runs in this process: its lifecycle events, forwarded from the
  engine's thread to each connected browser's queue on the UI's loop (never blocking the
  engine: a slow browser's queue drops events past its bound; the page only needs a nudge);
* :class:`PollFeed` — ``duralua ui --db``: SQLite's ``data_version`` on the read-only
  connection, polled every second; any commit by the engine nudges the pages.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from .. import lifecycle as lc
from ..lifecycle import LifecycleBus, LifecycleEvent
from .data import ReadModel

QUEUE_BOUND = 256
POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
_FORWARDED = frozenset(k for k in lc.KINDS if k != lc.ENGINE_COMMIT)


def sse(data: dict[str, Any], event: str = "message") -> bytes:
    # json.dumps escapes nothing HTML-ish, but SSE data is never parsed as HTML by the page.
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n".encode()


class BusFeed:
    def __init__(self, bus: LifecycleBus) -> None:
        self._clients: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = set()
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] = bus.subscribe(self._on_event)

    def _on_event(self, event: LifecycleEvent) -> None:
        if event.kind not in _FORWARDED:
            return
        with self._lock:
            clients = list(self._clients)
        if not clients:
            return
        data = {"kind": event.kind, "run_id": event.run_id, "workflow_id": event.subject, "entry": event.entry}
        for loop, queue in clients:
            try:
                loop.call_soon_threadsafe(_offer, queue, data)
            except RuntimeError:  # that client's loop is closed: it is going away
                pass

    async def stream(self, closing: asyncio.Event) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_BOUND)
        client = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._clients.add(client)
        try:
            yield sse({"kind": "hello"}, "hello")
            while not closing.is_set():
                try:
                    async with asyncio.timeout(HEARTBEAT_SECONDS):
                        item = await _first(queue.get(), closing)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if item is None:
                    return
                yield sse(item)
        finally:
            with self._lock:
                self._clients.discard(client)

    def close(self) -> None:
        self._unsubscribe()


class PollFeed:
    def __init__(self, model: ReadModel) -> None:
        self.model = model

    async def stream(self, closing: asyncio.Event) -> AsyncIterator[bytes]:
        yield sse({"kind": "hello"}, "hello")
        last = await asyncio.to_thread(self._version)
        quiet = 0.0
        while not closing.is_set():
            try:
                async with asyncio.timeout(POLL_SECONDS):
                    await closing.wait()
                return
            except TimeoutError:
                pass
            version = await asyncio.to_thread(self._version)
            if version != last:
                last = version
                quiet = 0.0
                yield sse({"kind": "changed"})
            else:
                quiet += POLL_SECONDS
                if quiet >= HEARTBEAT_SECONDS:
                    quiet = 0.0
                    yield b": keep-alive\n\n"

    def _version(self) -> int:
        try:
            return self.model.fingerprint()
        except Exception:
            return -1

    def close(self) -> None:
        pass


def _offer(queue: asyncio.Queue[dict[str, Any]], item: dict[str, Any]) -> None:
    try:
        queue.put_nowait(item)
    except asyncio.QueueFull:
        pass  # a nudge is enough: the page re-reads everything it shows


async def _first(get: Any, closing: asyncio.Event) -> dict[str, Any] | None:
    """The next queued item, or None once the server is closing."""
    getter = asyncio.ensure_future(get)
    closer = asyncio.ensure_future(closing.wait())
    try:
        done, _ = await asyncio.wait({getter, closer}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        getter.cancel()
        closer.cancel()
    if getter in done and not getter.cancelled():
        result: dict[str, Any] = getter.result()
        return result
    return None
