"""The test runner of ``duralua test`` (Wippy's ``wippy/test`` contract, spec runtime-modules.md §10).

* **Discovery**: entries with ``meta.type == "test"``; a filter keeps an entry whose id
  contains it (any of several); grouped by ``meta.suite`` (alphabetical, entries without one
  last as ``other``), inside a suite by ``meta.order`` (missing = 0) then id.
* **Execution**, one at a time while the app is served: a function entry is called with one
  argument ``{pid = <runner pid>, topic = "test:update", ref_id = <entry id>}`` and context
  values ``parent_pid`` / ``test_topic`` (a ``process.lua`` entry is spawned with the same
  argument on a host of the runner); ``meta.timeout`` (default 30s) cancels it, then a grace
  second later terminates it.
* **Verdict** of a simple test: fails if it raised, returned ``nil, err``, returned ``false``, a
  table whose ``status == "error"``, could not start, or timed out. A BDD test (messages
  ``test:plan`` / ``test:case:pass|fail|skip`` / ``test:complete`` to the runner) fails for each
  failed case, and when the cases run differ from the plan or no completion came.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..codec import JSONValue
from ..core.scheduler import Delivery
from ..durations import DurationError, parse_option
from ..errors import CallError, Failure
from .hosts import ProcessHost
from .node import Mailbox
from .proc import CANCEL, terminated

if TYPE_CHECKING:
    from ..registry import Entry, Registry
    from .functions import FunctionRuntime

TOPIC = "test:update"
DEFAULT_TIMEOUT_NS = 30_000_000_000
GRACE_S = 1.0


@dataclass
class TestEntry:
    id: str
    kind: str
    suite: str
    order: float
    timeout_ns: int

    @property
    def name(self) -> str:
        return self.id.rpartition(":")[2]


@dataclass
class Case:
    suite: str
    test: str
    status: str  # pass | fail | skip
    error: str = ""
    duration_ms: float = 0.0


@dataclass
class Verdict:
    entry: TestEntry
    passed: bool
    message: str = ""
    duration_s: float = 0.0
    cases: list[Case] = field(default_factory=list)
    declared: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.entry.id, "suite": self.entry.suite, "name": self.entry.name, "passed": self.passed,
                "message": self.message, "duration_s": round(self.duration_s, 6),
                "cases": [c.__dict__ for c in self.cases]}  # fmt: skip


def _timeout(entry: Entry) -> tuple[int, str]:
    raw = entry.meta.get("timeout")
    if raw is None:
        return DEFAULT_TIMEOUT_NS, ""
    try:
        ns = parse_option(raw)
    except DurationError as exc:
        return DEFAULT_TIMEOUT_NS, f"meta.timeout: {exc}"
    return (ns if ns > 0 else DEFAULT_TIMEOUT_NS), ""


def discover(registry: Registry, filters: list[str] | None = None) -> list[TestEntry]:
    """Test entries in the order they run."""
    found = []
    for entry in registry.entries.values():
        if entry.meta.get("type") != "test":
            continue
        if filters and not any(f in entry.id for f in filters):
            continue
        suite = entry.meta.get("suite")
        order = entry.meta.get("order")
        found.append(TestEntry(entry.id, entry.kind, suite if isinstance(suite, str) and suite else "",
                               float(order) if isinstance(order, (int, float)) and not isinstance(order, bool)
                               else 0.0, _timeout(entry)[0]))  # fmt: skip
    # suites alphabetically; entries without a suite last, as suite "other"
    ordered = sorted(found, key=lambda t: (not t.suite, t.suite, t.order, t.id))
    for t in ordered:
        t.suite = t.suite or "other"
    return ordered


def simple_verdict(value: JSONValue, failure: Failure | None) -> tuple[bool, str]:
    if failure is not None:
        return False, str(failure)
    if value is False:
        return False, "returned false"
    if isinstance(value, dict) and value.get("status") == "error":
        detail = value.get("error") or value.get("message") or "status error"
        return False, f"returned status error: {detail}"
    return True, ""


class _Reports:
    """BDD messages of the running test (by ``data.ref_id``)."""

    def __init__(self) -> None:
        self.plan: int | None = None
        self.cases: list[Case] = []
        self.complete: dict[str, Any] | None = None

    def take(self, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        kind, data = payload.get("type"), payload.get("data")
        if not isinstance(data, dict):
            return
        if kind == "test:plan":
            total = 0
            for suite in data.get("suites") or []:
                if isinstance(suite, dict):
                    total += len(suite.get("tests") or [])
            self.plan = total
        elif kind in ("test:case:pass", "test:case:fail", "test:case:skip"):
            duration = data.get("duration")
            self.cases.append(Case(str(data.get("suite", "")), str(data.get("test", "")), kind.rsplit(":", 1)[1],
                                   str(data.get("error") or ""),
                                   float(duration) if isinstance(duration, (int, float)) else 0.0))  # fmt: skip
        elif kind == "test:complete":
            self.complete = data


class TestRunner:
    """Runs test entries one at a time inside a served runtime."""

    def __init__(self, rt: FunctionRuntime, registry: Registry) -> None:
        self.rt = rt
        self.registry = registry
        self._reports: dict[str, _Reports] = {}
        self.mailbox = Mailbox(rt, "test:runner", self._on_delivery)
        self.host = rt.hosts.setdefault("test:runner", ProcessHost(rt, "test:runner"))
        self.host.start()

    def close(self) -> None:
        self.mailbox.close()
        if self.rt.hosts.get("test:runner") is self.host:
            del self.rt.hosts["test:runner"]

    def _on_delivery(self, d: Delivery) -> None:
        if d.topic != TOPIC or not d.payloads:
            return
        payload = d.payloads[0]
        data = payload.get("data") if isinstance(payload, dict) else None
        ref = data.get("ref_id") if isinstance(data, dict) else None
        reports = self._reports.get(str(ref)) if ref is not None else None
        if reports is not None:
            reports.take(payload)

    async def run(self, tests: list[TestEntry], on_start: Callable[[TestEntry], None] | None = None,
                  on_done: Callable[[Verdict], None] | None = None) -> list[Verdict]:  # fmt: skip
        out = []
        for t in tests:
            if on_start is not None:
                on_start(t)
            verdict = await self.run_one(t)
            out.append(verdict)
            if on_done is not None:
                on_done(verdict)
        return out

    async def run_one(self, t: TestEntry) -> Verdict:
        reports = self._reports[t.id] = _Reports()
        arg = {"pid": self.mailbox.pid, "topic": TOPIC, "ref_id": t.id}
        context = {"parent_pid": self.mailbox.pid, "test_topic": TOPIC}
        started = time.monotonic()
        try:
            value, failure = await self._invoke(t, arg, context)
        finally:
            self._reports.pop(t.id, None)
        took = time.monotonic() - started
        if reports.plan is None and not reports.cases and reports.complete is None:
            ok, message = simple_verdict(value, failure)
            return Verdict(t, ok, message, took)
        return self._bdd(t, reports, value, failure, took)

    def _bdd(self, t: TestEntry, r: _Reports, value: JSONValue, failure: Failure | None, took: float) -> Verdict:
        problems = [f"{c.suite} {c.test}: {c.error}".strip() for c in r.cases if c.status == "fail"]
        if failure is not None:
            problems.append(str(failure))
        if r.plan is not None and len(r.cases) != r.plan:
            problems.append(f"ran {len(r.cases)} of the {r.plan} declared cases")
        if r.complete is None:
            problems.append("the test did not report completion")
        else:
            counts = {k: r.complete.get(k) for k in ("passed", "failed", "skipped")}
            seen = {name: sum(c.status == status for c in r.cases)
                    for name, status in (("passed", "pass"), ("failed", "fail"), ("skipped", "skip"))}  # fmt: skip
            if any(isinstance(v, int) and v != seen[k] for k, v in counts.items()):
                problems.append(f"completion counts {counts} disagree with the cases reported {seen}")
        return Verdict(t, not problems, "; ".join(problems), took, list(r.cases), r.plan)

    def _cancel(self, target: Any) -> None:
        me = self.mailbox.pid
        target.deliver(Delivery("@events", me, [], kind="event",
                                data={"kind": CANCEL, "from": me, "reason": "test timed out"}))  # fmt: skip

    async def _invoke(self, t: TestEntry, arg: dict[str, Any], context: dict[str, Any]
                      ) -> tuple[JSONValue, Failure | None]:  # fmt: skip
        timeout_s = t.timeout_ns / 1e9
        if t.kind == "process.lua":
            child, failure = self.host.spawn(t.id, [arg], context, parent=self.mailbox.pid)
            if failure is not None or child is None:
                return None, failure or Failure("the test could not start", "Internal", False)
            done = asyncio.Event()
            child.on_exit(lambda _c: done.set())
            try:
                await asyncio.wait_for(done.wait(), timeout_s)
            except TimeoutError:
                self._cancel(child)
                await asyncio.sleep(min(GRACE_S, timeout_s))
                child.doom(terminated())
                return None, Failure(f"timed out after {_secs(timeout_s)}", "Timeout", False)
            return child.result, child.failure
        try:
            call = self.rt.start_call(t.id, [arg], context)
        except CallError as exc:
            return None, exc.failure
        if call.finished:
            return call.result, call.failure
        waiter = asyncio.ensure_future(self.rt.finish_call(call))
        done_set, _ = await asyncio.wait({waiter}, timeout=timeout_s)
        if waiter in done_set:
            return waiter.result()
        self._cancel(call)
        done_set, _ = await asyncio.wait({waiter}, timeout=min(GRACE_S, timeout_s))
        if waiter not in done_set:
            call.terminate()
            await asyncio.wait({waiter}, timeout=1.0)
        waiter.cancel()
        return None, Failure(f"timed out after {_secs(timeout_s)}", "Timeout", False)


def _secs(s: float) -> str:
    return f"{s:g}s"
