"""Prometheus metrics from the lifecycle stream, plus gauges read from the database at scrape time.

Counters and histograms move as events arrive (one dict lookup and an add each); what the
database knows better than the event stream (timers pending, runs by status) is read with a
read-only connection when Prometheus scrapes, so the engine does no extra work for it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .. import lifecycle as lc
from ..lifecycle import LifecycleEvent

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_SLOW = (0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0, 3600.0, 86400.0)
_CLOSE_STATUS = {lc.RUN_COMPLETED: "completed", lc.RUN_FAILED: "failed", lc.RUN_TERMINATED: "terminated",
                 lc.RUN_CANCELED: "canceled", lc.RUN_CONTINUED: "continued"}  # fmt: skip


class LifecycleMetrics:
    """A lifecycle subscriber that keeps duralua's Prometheus counters and histograms."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = registry
        self.started = Counter("duralua_workflow_started", "Workflow runs started.", ["workflow_type"], registry=r)
        self.completed = Counter("duralua_workflow_completed", "Workflow runs completed.", ["workflow_type"],
                                 registry=r)  # fmt: skip
        self.failed = Counter("duralua_workflow_failed", "Workflow runs failed (timed out included).",
                              ["workflow_type"], registry=r)  # fmt: skip
        self.closed = Counter("duralua_workflow_closed", "Workflow runs closed, by final status.",
                              ["workflow_type", "status"], registry=r)  # fmt: skip
        self.held = Counter("duralua_workflow_held", "Times a run was held (non-determinism, budget...).",
                            ["workflow_type"], registry=r)  # fmt: skip
        self.signals = Counter("duralua_workflow_signals", "Messages delivered to runs.", ["workflow_type"],
                               registry=r)  # fmt: skip
        self.run_seconds = Histogram("duralua_workflow_duration_seconds", "Start to close of runs that closed.",
                                     ["workflow_type"], buckets=_SLOW, registry=r)  # fmt: skip
        self.attempts = Counter("duralua_activity_attempts", "Activity attempts, by outcome (ok or error).",
                                ["activity_type", "outcome"], registry=r)  # fmt: skip
        self.attempt_seconds = Histogram("duralua_activity_attempt_duration_seconds", "Activity attempt latency.",
                                         ["activity_type"], buckets=(*_FAST, 5.0, 15.0, 60.0), registry=r)  # fmt: skip
        self.retries = Counter("duralua_activity_retries", "Failed attempts that will be retried.",
                               ["activity_type"], registry=r)  # fmt: skip
        self.activity_failures = Counter("duralua_activity_failures", "Activities that failed for good.",
                                         ["activity_type"], registry=r)  # fmt: skip
        self._commits: _CommitMetrics | None = None
        self._commits_lock = threading.Lock()
        self.engine_errors = Counter("duralua_engine_errors", "Engine errors and fatal stops.", ["kind"], registry=r)
        self.http_requests = Counter("duralua_http_requests", "HTTP requests served.", ["method", "status"],
                                     registry=r)  # fmt: skip
        self.http_seconds = Histogram("duralua_http_request_duration_seconds", "HTTP request latency.",
                                      ["method"], buckets=_FAST, registry=r)  # fmt: skip

    def commits(self) -> _CommitMetrics:
        """The embedded engine's commit and cache metrics, registered at its first commit: an
        app served on Temporal has no group commit or live-state cache, so it shows none."""
        with self._commits_lock:
            if self._commits is None:
                self._commits = _CommitMetrics(self.registry)
            return self._commits

    def __call__(self, event: LifecycleEvent) -> None:
        k, d = event.kind, event.data
        if k == lc.ENGINE_COMMIT:
            c = self._commits or self.commits()
            c.seconds.observe(d.get("duration_ns", 0) / 1e9)
            c.runs.inc(d.get("runs", 0))
            c.cache_hits.inc(d.get("cache_hits", 0))
            c.cache_misses.inc(d.get("cache_misses", 0))
            c.cache_evictions.inc(d.get("cache_evictions", 0))
            c.cache_parks.inc(d.get("cache_parks", 0))
        elif k == lc.ACTIVITY_ATTEMPT:
            self.attempts.labels(event.entry, "ok" if d.get("ok") else "error").inc()
            self.attempt_seconds.labels(event.entry).observe(d.get("duration_ns", 0) / 1e9)
        elif k == lc.RUN_STARTED:
            self.started.labels(event.entry).inc()
        elif k in _CLOSE_STATUS:
            status = str(d.get("status") or _CLOSE_STATUS[k])
            self.closed.labels(event.entry, status).inc()
            if k == lc.RUN_COMPLETED:
                self.completed.labels(event.entry).inc()
            elif k == lc.RUN_FAILED:
                self.failed.labels(event.entry).inc()
            if "duration_ns" in d:
                self.run_seconds.labels(event.entry).observe(d["duration_ns"] / 1e9)
        elif k == lc.RUN_HELD:
            self.held.labels(event.entry).inc()
        elif k == lc.RUN_SIGNALED:
            self.signals.labels(event.entry).inc()
        elif k == lc.ACTIVITY_RETRY:
            self.retries.labels(event.entry).inc()
        elif k == lc.ACTIVITY_FAILED:
            self.activity_failures.labels(event.entry).inc()
        elif k in (lc.ENGINE_ERROR, lc.ENGINE_FATAL):
            self.engine_errors.labels(k.split(".")[1]).inc()

    def http_request(self, method: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, str(status)).inc()
        self.http_seconds.labels(method).observe(seconds)


class _CommitMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.seconds = Histogram("duralua_engine_commit_duration_seconds",
                                 "Group commit latency of the embedded engine.", buckets=_FAST, registry=r)  # fmt: skip
        self.runs = Counter("duralua_engine_committed_activations", "Run activations committed.", registry=r)
        self.cache_hits = Counter("duralua_engine_cache_hits", "Activations served from the live-state cache.",
                                  registry=r)  # fmt: skip
        self.cache_misses = Counter("duralua_engine_cache_misses", "Activations that replayed history.", registry=r)
        self.cache_evictions = Counter("duralua_engine_cache_evictions", "Live states dropped from the cache.",
                                       registry=r)  # fmt: skip
        self.cache_parks = Counter("duralua_engine_cache_parks",
                                   "Runs parked: asleep until a far timer, their live state dropped.",
                                   registry=r)  # fmt: skip


class StoreCollector(Collector):
    """Gauges read from the database when scraped: runs by status, timers and activities pending."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection | None:
        if self._conn is None:
            if not self.db_path.exists():
                return None
            uri = self.db_path.resolve().as_uri() + "?mode=ro"
            self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=2.0)
        return self._conn

    def describe(self) -> Iterable[Metric]:
        return []  # collected lazily: registering must not touch the database

    def collect(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily("duralua_workflow_runs", "Runs in the database, by status.", labels=["status"])
        timers = GaugeMetricFamily("duralua_timers_pending", "Durable timers not fired yet.")
        tasks = GaugeMetricFamily("duralua_activities_pending", "Activity tasks scheduled or retrying.")
        with self._lock:
            try:
                db = self._db()
                if db is None:
                    return
                for status, count in db.execute("SELECT status, count(*) FROM runs GROUP BY status"):
                    runs.add_metric([str(status)], float(count))
                timers.add_metric([], float(db.execute("SELECT count(*) FROM timers").fetchone()[0]))
                tasks.add_metric([], float(db.execute("SELECT count(*) FROM tasks").fetchone()[0]))
            except sqlite3.Error:
                # A scrape must not fail because the database is busy or being replaced.
                return
        yield runs
        yield timers
        yield tasks

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def new_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=False)


def register_store(registry: CollectorRegistry, db_path: str | Path) -> StoreCollector:
    collector = StoreCollector(db_path)
    registry.register(collector)
    return collector


__all__ = ["CONTENT_TYPE", "LifecycleMetrics", "StoreCollector", "new_registry", "register_store", "render"]
