"""Continue-as-new keeps the mailbox (issue 7, item 8), also across SIGKILLs.

faults:counter continues as new every 5 "tick" messages, carrying every value it has seen;
the run that has seen TOTAL values returns them. 30 signals are sent concurrently: every one
must be counted exactly once by the final run. A message that sits in the buffer of the
`process.listen` channel when the run continues as new is unread too (user code never received
it), so it must move to the new run like the ones still in the mailbox.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from duralua import App, CallError
from duralua.codec import decode
from duralua.embedded.store import Store

from .support import (
    APP,
    Procs,
    brief,
    connect_ro,
    latest,
    progress_state,
    result_of,
    runs,
    wait_until,
    wf_cli,
)

TOTAL = 30


def _start_counter(db: Path, wid: str) -> None:
    proc = wf_cli(db, "start", "faults:counter", "[]", str(TOTAL), "--id", wid)
    assert proc.returncode == 0, proc.stderr
    assert wait_until(lambda: wid in latest(db), deadline=20), f"{wid} never started"


def _check_counted(db: Path, wid: str, problems: list[str]) -> None:
    def done() -> bool:
        row = latest(db).get(wid)
        return row is not None and row["status"] not in ("running", "held")

    wait_until(done, deadline=40, stall=10, state=lambda: progress_state(db))
    chain = [r for r in runs(db) if r["workflow_id"] == wid]
    final = chain[-1] if chain else None
    value = result_of(final) if final is not None and final["status"] == "completed" else None
    if not isinstance(value, dict):
        carried, since = _last_run_view(db, chain)
        lost = sorted(set(range(TOTAL)) - set(carried) - set(since))
        problems.append(
            f"{wid} did not finish: last run {brief(final)} after {len(chain)} run(s); it was started with "
            f"{len(carried)} of {TOTAL} values, was delivered {sorted(since)} since, and never got {lost}"
        )
        return
    seen = value.get("seen") or []
    if sorted(seen) != list(range(TOTAL)):
        lost = sorted(set(range(TOTAL)) - set(seen))
        dup = sorted({v for v in seen if seen.count(v) > 1})
        problems.append(f"{wid}: counted {value.get('count')} of {TOTAL}; lost {lost}, counted twice {dup}")
    statuses = [r["status"] for r in chain]
    if statuses != ["continued"] * (TOTAL // 5 - 1) + ["completed"]:
        problems.append(f"{wid}: runs {statuses} (expected {TOTAL // 5 - 1} continued, then completed)")


def _last_run_view(db: Path, chain: list[dict[str, Any]]) -> tuple[list[int], list[int]]:
    """The values the latest run was started with, and the tick values delivered to it since."""
    if not chain:
        return [], []
    last = chain[-1]
    args = decode(str(last["info"])).get("args") or []
    carried = list(args[0]) if args and isinstance(args[0], list) else []
    conn = connect_ro(db)
    try:
        records = [decode(r[0]) for r in conn.execute("SELECT record FROM history WHERE run_id = ?", (last["run_id"],))]
    finally:
        conn.close()
    since = [
        p for rec in records for job in rec.get("jobs", []) if job.get("type") == "Signal" for p in job["payloads"]
    ]
    return carried, since


def test_concurrent_signals_survive_continue_as_new(tmp_path: Path, procs: Procs) -> None:
    """`duralua run`, and 30 signals queued from five threads the way `duralua workflow signal`
    queues them for a running engine."""
    db = tmp_path / "can.db"
    server = procs.serve(db)
    _start_counter(db, "counter")
    errors: list[str] = []
    values = list(range(TOTAL))
    senders = [
        threading.Thread(target=_send, args=(db, "counter", values[k::5], random.Random(k), errors, 0.2))
        for k in range(5)
    ]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    problems = list(errors)
    _check_counted(db, "counter", problems)
    server.terminate(10)
    assert not problems, "\n".join(problems)


async def _api(db: Path) -> list[str]:
    app = App(APP, log=None)
    problems: list[str] = []
    async with app.engine(db) as wf:
        pid = await wf.start("faults:counter", "faults:worker", [], TOTAL, workflow_id="counter")
        outcomes = await asyncio.gather(*(wf.signal(pid, "tick", i) for i in range(TOTAL)), return_exceptions=True)
        problems += [f"signal {i}: {o!r}" for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
        try:
            value = await asyncio.wait_for(wf.result(pid), 20)
        except (TimeoutError, CallError) as exc:
            value = f"no result ({type(exc).__name__}: {exc})"
    if not isinstance(value, dict) or sorted(value.get("seen") or []) != list(range(TOTAL)):
        problems.append(f"30 concurrent signals through the Python API, every call returned: {value!r}")
    return problems


def test_concurrent_signals_survive_continue_as_new_python_api(tmp_path: Path) -> None:
    problems = asyncio.run(_api(tmp_path / "api.db"))
    if problems:  # the stored chain tells what was lost where
        _check_counted(tmp_path / "api.db", "counter", problems)
    assert not problems, "\n".join(problems)


def _send(db: Path, wid: str, values: list[int], rng: random.Random, errors: list[str], pause: float = 0.6) -> None:
    """Queue signals the way `duralua workflow signal` does for a running engine (durably,
    whether or not the engine is up at that moment)."""
    for v in values:
        time.sleep(rng.uniform(0.0, pause))
        try:
            store = Store(db)
            try:
                with store.transaction() as conn:
                    body = {"pid": wid, "topic": "tick", "payloads": [v], "sender": ""}
                    Store.add_request(conn, "signal", body, time.time_ns())
            finally:
                store.close()
        except Exception as exc:  # reported by the test; a lost signal shows up in the count anyway
            errors.append(f"signal {v}: {type(exc).__name__}: {exc}")


@pytest.mark.slow
def test_concurrent_signals_survive_continue_as_new_and_sigkill(tmp_path: Path, procs: Procs) -> None:
    db = tmp_path / "can-kill.db"
    rng = random.Random(77)
    server = procs.serve(db)
    _start_counter(db, "counter")
    values = list(range(TOTAL))
    rng.shuffle(values)
    errors: list[str] = []
    senders = [
        threading.Thread(target=_send, args=(db, "counter", values[k::5], random.Random(k), errors)) for k in range(5)
    ]
    for t in senders:
        t.start()
    for _ in range(5):
        time.sleep(rng.uniform(0.0, 0.8))  # at a random point of whatever it is doing
        server.kill()
        server = procs.serve(db, name="restart")
    for t in senders:
        t.join()
    problems = list(errors)
    _check_counted(db, "counter", problems)
    server.terminate(10)
    assert not problems, "\n".join(problems)
