"""Forged events from outside (issue 7, item 5: inputs from outside).

External signals must not use the engine's reserved topics (`@future/N` would replace a
pending activity result, `@timer/N` would fire a timer early), empty topics or control
characters; workflow ids must not be shaped like a PID (`{a@b|c}` would receive signals meant
for workflow `c`), be empty, contain control characters or be 10,000 characters long. The
CLI (against a running `duralua run`) and the Python API refuse them with a clear error, and
the pending activity, timer and listener of a running workflow are not affected.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from duralua import App, CallError
from duralua.engine import StartRequest
from duralua.errors import DuraluaError

from .support import APP, Procs, brief, has_traceback, latest, parallel, queued_requests, result_of, wait_until, wf_cli

BAD_TOPICS = ["@future/1", "@timer/1", "@inbox", "", "tick\x01", "\x1b[2Jtick", "line\nbreak"]
BAD_IDS = ["{a@b|c}", "{a@b|TARGET}", "", "bad\nid", "tab\tid", "\x7f", "x" * 10_000]
# The CLI (one process per call) tries a representative subset; the API tries them all.
CLI_TOPICS = ["@future/1", "@timer/1", "", "tick\x01"]
CLI_IDS = ["{a@b|TARGET}", "", "bad\nid", "x" * 10_000]

ACT_MS, TIMER_MS = 5000, 6000  # the guarded workflow's activity and timer (CLI test)


def _ids(target: str) -> list[str]:
    return [i.replace("TARGET", target) for i in BAD_IDS]


def _check_result(value: Any, act_ms: int, timer_ms: int, problems: list[str]) -> None:
    if not isinstance(value, dict):
        problems.append(f"the guarded workflow returned {value!r}")
        return
    if value.get("act") != "real":
        problems.append(f"the pending activity's result was replaced: act = {value.get('act')!r}")
    if float(value.get("act_ms") or 0) < act_ms - 100:
        problems.append(f"the activity's future resolved after {value.get('act_ms')} ms (it takes {act_ms} ms)")
    if float(value.get("timer_ms") or 0) < timer_ms - 100:
        problems.append(f"the timer fired after {value.get('timer_ms')} ms (it was set to {timer_ms} ms)")
    if value.get("ping") != "real":
        problems.append(f"the listener received a forged message: ping = {value.get('ping')!r}")


def _refused(proc: Any, what: str, problems: list[str]) -> None:
    if proc.returncode == 0:
        problems.append(f"{what} was accepted (exit 0): {proc.stdout.strip()[:200]}")
    elif has_traceback(proc.stderr) or not proc.stderr.strip().lower().startswith("error"):
        problems.append(f"{what} exited {proc.returncode} without a clear error: {proc.stderr.strip()[-400:]}")


def test_forged_topics_and_ids_are_refused_by_the_cli(tmp_path: Path, procs: Procs) -> None:
    db = tmp_path / "forged.db"
    server = procs.serve(db)
    start = wf_cli(db, "start", "faults:guarded", f'"{ACT_MS}ms"', f'"{TIMER_MS}ms"', "--id", "g-1")
    assert start.returncode == 0, start.stderr
    assert wait_until(lambda: "g-1" in latest(db), deadline=20), "the guarded workflow never started"
    problems: list[str] = []
    signals = parallel(lambda t: wf_cli(db, "signal", "g-1", t, '"forged"'), [(t,) for t in CLI_TOPICS])
    for topic, proc in zip(CLI_TOPICS, signals, strict=True):
        _refused(proc, f"`workflow signal g-1 {topic!r}`", problems)
    ids = [i.replace("TARGET", "g-1") for i in CLI_IDS]
    starts = parallel(lambda i: wf_cli(db, "start", "faults:healthy", "1", "--id", i), [(i,) for i in ids])
    for wid, proc in zip(ids, starts, strict=True):
        _refused(proc, f"`workflow start --id {wid[:40]!r}{'...' if len(wid) > 40 else ''}`", problems)
        if proc.returncode == 0 and wid == "{a@b|g-1}":
            # The PID-shaped workflow got in: a signal meant for it reaches g-1 instead.
            wait_until(lambda w=wid: w in latest(db), deadline=10)
            wf_cli(db, "signal", wid, "ping", '"meant for {a@b|g-1}"')
    ping = wf_cli(db, "signal", "g-1", "ping", '"real"')
    if ping.returncode != 0:
        problems.append(f"the real ping to g-1 exited {ping.returncode}: {ping.stderr.strip()[-300:]}")

    wait_until(lambda: latest(db).get("g-1", {}).get("status") not in (None, "running"), deadline=30)
    row = latest(db).get("g-1")
    if row is None or row["status"] != "completed":
        problems.append(f"g-1: {brief(row)}")
    else:
        _check_result(result_of(row), ACT_MS, TIMER_MS, problems)
    others = sorted(w[:40] for w in latest(db) if w != "g-1")
    if others:
        problems.append(f"runs were created for refused ids: {others}")
    if queued_requests(db):
        problems.append(f"{queued_requests(db)} forged request(s) still queued")
    server.terminate(10)
    assert not problems, "\n".join(problems)


async def _api(db: Path) -> list[str]:
    app = App(APP, log=None)
    problems: list[str] = []

    async def refused(what: str, call: Any) -> None:
        try:
            await asyncio.wait_for(call, 10)
        except (CallError, DuraluaError, ValueError) as exc:
            if not str(exc).strip():
                problems.append(f"{what} was refused without a message ({type(exc).__name__})")
        except TimeoutError:
            problems.append(f"{what} neither returned nor raised within 10 s")
        else:
            problems.append(f"{what} was accepted")

    async with app.engine(db) as wf:
        pid = await wf.start("faults:guarded", "faults:worker", "1500ms", "2500ms", workflow_id="g-api")
        for topic in [*BAD_TOPICS, "nul\x00"]:
            await refused(f"Workflows.signal(topic={topic!r})", wf.signal(pid, topic, "forged"))
            await refused(f"engine.signal(topic={topic!r})", wf.engine.signal(pid, topic, ["forged"]))
        for wid in [*_ids("g-api"), "nul\x00"]:
            label = f"{wid[:40]!r}{'...' if len(wid) > 40 else ''}"
            await refused(f"Workflows.start(workflow_id={label})", wf.start("faults:healthy", None, 1, workflow_id=wid))
            request = StartRequest(workflow_type="faults:healthy", worker_id="faults:worker", args=[1], workflow_id=wid)
            await refused(f"engine.start_workflow(workflow_id={label})", wf.engine.start_workflow(request))
        await wf.signal(pid, "ping", "real")
        try:
            value = await asyncio.wait_for(wf.result(pid), 30)
        except (CallError, TimeoutError) as exc:
            problems.append(f"g-api did not complete: {type(exc).__name__}: {exc}")
        else:
            _check_result(value, 1500, 2500, problems)
        listed = [r.workflow_id for r in await wf.engine.list_runs()]
        if listed != ["g-api"]:
            problems.append(f"runs were created for refused ids: {sorted(w[:40] for w in listed if w != 'g-api')}")
    return problems


def test_forged_topics_and_ids_are_refused_by_the_python_api(tmp_path: Path) -> None:
    problems = asyncio.run(_api(tmp_path / "api.db"))
    assert not problems, "\n".join(problems)
