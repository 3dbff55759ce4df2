"""The live-state cache: Lua states of recently active runs, bounded by memory and count.

A cached run is activated at once; an evicted one is rebuilt by replaying its whole history,
which costs time in proportion to the history's length. So the cache evicts by *cost*, not
by recency alone (GreedyDual-Size): each entry has a priority ``L + rebuild_cost / size``,
``L`` being the priority of the last entry evicted (so idle entries age and go, whatever their
cost), and the entry with the lowest priority goes first. A long-history run stays resident
while short ones (a sleeper: one activation to replay) come and go; among equals it is LRU.

``size`` is an estimate of the memory the entry holds (the Lua memory of its tenant and its
share of the state's, its Python objects and the decoded history), so the budget is in bytes;
``max_entries`` still caps the count (0 disables the cache: every activation rebuilds).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import _Live

# What a run costs besides its share of a Lua state (runs are tenants of shared states,
# lua/workflow_program.py): its machine, scheduler and tenant view in Python, and the
# allocator's slack (measured: ~25 KB RSS per cached run for ~20 KB of Lua memory).
RUN_OVERHEAD = 8 * 1024
# Decoded history (dataclasses, lists, dicts) per byte of its canonical JSON (measured ~3x).
HISTORY_FACTOR = 3
# Rebuild cost in units of one replayed activation: a fresh machine and Lua state rebind cost
# about as much as replaying this many activations.
REBUILD_BASE = 12
# Sized for the count cap: at ~30 KB a typical run, 64 MB held only ~1,900 of the 4,096 runs the
# cache may hold, and 5,000 concurrent workflows with a timer rebuilt 7,700 times instead of 6,100.
DEFAULT_MEMORY = 128 * 1024 * 1024
# A run that waits only for a timer at least this far away is *parked*: its state leaves the
# cache at once and is rebuilt when the timer fires. Holding it would cost memory for as long
# as it sleeps and, measured, slow every other run down: at 4,096 cached sleepers starting
# 30,000 more took 14.1 s instead of 7.6 s (more, colder Lua states; a larger heap for the
# collector). The horizon grows with the rebuild cost, so that rebuilding a parked run costs at
# most ~0.1% of the time it sleeps (a replayed activation is ~13 µs against 10 ms here): a
# polling loop is parked while its history is short and stays cached once it is long.
PARK_BASE_NS = 2_000_000_000
PARK_NS_PER_COST = 10_000_000


def entry_size(live: _Live) -> int:
    return live.memory_used() + RUN_OVERHEAD + HISTORY_FACTOR * live.history.size()


def rebuild_cost(live: _Live) -> int:
    return REBUILD_BASE + len(live.history.activations)


def park_horizon_ns(live: _Live) -> int:
    """How far away a run's next timer must be for the run to be parked (see PARK_BASE_NS)."""
    return PARK_BASE_NS + rebuild_cost(live) * PARK_NS_PER_COST


class LiveCache:
    """Run id -> live state, with cost-aware eviction under a memory and a count budget."""

    def __init__(self, max_entries: int = 4096, max_bytes: int = DEFAULT_MEMORY) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: dict[str, _Live] = {}
        self._sizes: dict[str, int] = {}
        self._tokens: dict[str, int] = {}  # the heap item that is current for each entry
        self._heap: list[tuple[float, int, str]] = []
        self._clock = 0.0  # L: the priority of the last eviction
        self._counter = 0
        self.bytes = 0

    # -- mapping -----------------------------------------------------------------------------

    def get(self, run_id: str) -> _Live | None:
        """The entry, without counting it as a use (lookups of its row, its workflow id)."""
        return self._entries.get(run_id)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def values(self) -> Iterator[_Live]:
        return iter(list(self._entries.values()))

    def pop(self, run_id: str) -> _Live | None:
        live = self._entries.pop(run_id, None)
        if live is not None:
            self.bytes -= self._sizes.pop(run_id)
            del self._tokens[run_id]
        return live

    def clear(self) -> None:
        self._entries.clear()
        self._sizes.clear()
        self._tokens.clear()
        self._heap.clear()
        self.bytes = 0

    # -- use and eviction ----------------------------------------------------------------------

    def touch(self, run_id: str) -> None:
        """The entry was used (activated): renew its priority and size."""
        live = self._entries.get(run_id)
        if live is None:
            return
        size = max(entry_size(live), 1)
        self.bytes += size - self._sizes[run_id]
        self._sizes[run_id] = size
        self._counter += 1
        self._tokens[run_id] = self._counter
        heapq.heappush(self._heap, (self._clock + rebuild_cost(live) * 1e6 / size, self._counter, run_id))
        if len(self._heap) > 2 * len(self._entries) + 64:
            self._compact()

    def add(self, run_id: str, live: _Live) -> list[_Live]:
        """Insert a rebuilt entry; returns the entries evicted to make room (to close)."""
        self._entries[run_id] = live
        self._sizes[run_id] = 0
        self._tokens[run_id] = 0
        self.touch(run_id)
        return self.shrink(keep=run_id)

    def shrink(self, keep: str | None = None) -> list[_Live]:
        """Evict until within budget (never ``keep``, the entry being activated)."""
        evicted: list[_Live] = []
        skipped: list[tuple[float, int, str]] = []
        while self._entries and (len(self._entries) > max(self.max_entries, 1) or self.bytes > self.max_bytes):
            if not self._heap:
                break
            item = heapq.heappop(self._heap)
            priority, token, run_id = item
            if self._tokens.get(run_id) != token:
                continue  # stale: the entry was touched since, or is gone
            if run_id == keep:
                skipped.append(item)
                if len(self._entries) == 1:
                    break
                continue
            self._clock = max(self._clock, priority)
            live = self.pop(run_id)
            if live is not None:
                evicted.append(live)
        for item in skipped:
            heapq.heappush(self._heap, item)
        return evicted

    def _compact(self) -> None:
        self._heap = [item for item in self._heap if self._tokens.get(item[2]) == item[1]]
        heapq.heapify(self._heap)
