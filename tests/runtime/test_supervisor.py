"""process.service supervision: start order, restart policy on the virtual clock, stop order."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest

from duralua import App, lifecycle
from duralua.errors import ConfigErrors
from duralua.lifecycle import LifecycleEvent
from duralua.registry import RestartPolicy
from duralua.runtime.supervisor import restart_delay_ns

from .conftest import served

SVC = Path(__file__).parent / "svcapp"
S = 1_000_000_000


def _of(events: list[LifecycleEvent], sid: str, kind: str | None = None) -> list[LifecycleEvent]:
    return [e for e in events if e.subject == sid and (kind is None or e.kind == kind)]


def test_restart_policy_on_the_virtual_clock(tmp_path: Path) -> None:
    events: list[LifecycleEvent] = []

    async def main() -> dict[str, Any]:
        async with served(tmp_path, SVC, events=events) as s:
            t0 = s.env.clock.now_ns()
            await s.sleep(60)
            state = {r["id"]: r for r in s.runtime.supervisor.list()}
            state["t0"] = t0
            return state

    state = asyncio.run(main())
    t0 = state.pop("t0")
    starts = [(e.time_ns - t0) // S for e in _of(events, "svc:flaky", lifecycle.SERVICE_STARTING)]
    # at boot, then 2s, 2+4s and 2+4+5s after each failure
    assert starts == [0, 2, 6, 11]
    assert state["svc:flaky"]["restarts"] == 3 and state["svc:flaky"]["gave_up"] is True
    last = _of(events, "svc:flaky")[-1]
    assert last.kind == lifecycle.SERVICE_FAILED and "gave up after 3 restarts" in last.message
    # return nil, "x" (not retryable) and a normal exit are not restarted
    assert [e.kind for e in _of(events, "svc:giveup")] == ["service.starting", "service.running", "service.exited"]
    assert [e.kind for e in _of(events, "svc:normal")] == ["service.starting", "service.running", "service.exited"]
    assert state["svc:giveup"]["state"] == "exited" and state["svc:normal"]["state"] == "exited"
    # stable_threshold: each run lasted 10s > 5s, so max_attempts 1 is never exhausted
    assert state["svc:stable"]["restarts"] >= 4 and state["svc:stable"]["gave_up"] is False
    assert state["svc:manual"]["state"] == "unknown"


def test_start_and_stop_order_follow_requires(tmp_path: Path) -> None:
    events: list[LifecycleEvent] = []

    async def main() -> None:
        async with served(tmp_path, SVC, events=events) as s:
            await s.sleep(1)

    asyncio.run(main())
    chain = ("svc:db", "svc:api", "svc:edge")
    running = [e.subject for e in events if e.kind == lifecycle.SERVICE_RUNNING and e.subject in chain]
    stopping = [e.subject for e in events if e.kind == lifecycle.SERVICE_STOPPING and e.subject in chain]
    assert running == ["svc:db", "svc:api", "svc:edge"]
    assert stopping == ["svc:edge", "svc:api", "svc:db"]


def test_order_and_cycles_are_reported(tmp_path: Path) -> None:
    lines: list[str] = []
    app = App(SVC, log=lambda src, text: lines.append(text))

    async def main() -> list[str]:
        async with app.serve_runtime() as rt:
            order = list(rt.supervisor.order)
            table = {r["id"]: r for r in rt.supervisor.list()}
        assert table["svc:cyc_a"]["state"] == "failed"
        cycle = "dependency cycle between services: svc:cyc_a -> svc:cyc_b -> svc:cyc_a"
        assert cycle in table["svc:cyc_a"]["last_error"]
        return order

    order = asyncio.run(main())
    assert order.index("svc:db") < order.index("svc:api") < order.index("svc:edge")
    assert "svc:cyc_a" not in order and "svc:manual" not in order
    text = "\n".join(lines)
    # one line per state
    assert "service svc:db running: as {local@svc:procs|0x" in text
    assert "service svc:edge stopping: service stopping" in text and "service svc:db stopped" in text
    assert "service svc:cyc_b failed: dependency cycle between services" in text


def test_a_service_whose_process_is_missing(tmp_path: Path) -> None:
    app = tmp_path / "bad"
    (app / "src").mkdir(parents=True)
    (app / "wippy.lock").write_text("directories:\n  src: ./src\n")
    (app / "src" / "_index.yaml").write_text(
        'version: "1.0"\nnamespace: b\nentries:\n  - {name: h, kind: process.host}\n'
        "  - {name: s, kind: process.service, process: nope, host: h, lifecycle: {auto_start: true}}\n"
    )
    with pytest.raises(ConfigErrors) as info:
        App(app)
    assert "process: no entry b:nope" in str(info.value.problems[0])

    # a process that disappears after loading: the service exits with the reason, others run
    loaded = App(SVC, log=None)
    loaded.registry.entries["svc:db"].data["process"] = "svc:gone"

    async def main() -> dict[str, Any]:
        async with loaded.serve_runtime() as rt:
            await asyncio.sleep(0.01)
            return {r["id"]: r for r in rt.supervisor.list()}

    table = asyncio.run(main())
    assert table["svc:db"]["state"] == "exited"
    assert "process entry svc:gone not found" in table["svc:db"]["last_error"]
    assert table["svc:api"]["state"] == "running"


def test_delay_formula() -> None:
    policy = RestartPolicy(initial_delay_ns=1 * S, max_delay_ns=10 * S, backoff_factor=3.0, jitter=0.0)
    assert [restart_delay_ns(policy, n) // S for n in (1, 2, 3, 4)] == [1, 3, 9, 10]
    jittered = RestartPolicy(initial_delay_ns=10 * S, jitter=0.5)
    assert all(5 * S <= restart_delay_ns(jittered, 1) <= 15 * S for _ in range(50))


def test_the_spec_example_service(tmp_path: Path) -> None:
    events: list[LifecycleEvent] = []

    async def main() -> dict[str, Any]:
        async with served(tmp_path, SVC, events=events) as s:
            await s.sleep(200)
            return {r["id"]: r for r in s.runtime.supervisor.list()}

    table = asyncio.run(main())
    poller = table["shop:poller"]
    assert poller["restarts"] == 5 and poller["gave_up"] is True
    assert "queue orders unreachable (polling every 30s)" in poller["last_error"]
    starts = [e.time_ns for e in _of(events, "shop:poller", lifecycle.SERVICE_STARTING)]
    gaps = [(b - a) / S for a, b in itertools.pairwise(starts)]
    # 2s doubling (default backoff_factor 2, max_delay 90s) with the default ±10% jitter
    for gap, want in zip(gaps, (2, 4, 8, 16, 32), strict=True):
        assert want * 0.9 <= gap <= want * 1.1, gaps
