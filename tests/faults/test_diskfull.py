"""Disk full mid-load (issue 7, item 6: storage faults).

A real driver process (diskfull_driver.py) runs starts, signals, activities and timers on the
embedded engine, makes the database full for a few seconds (``PRAGMA max_page_count`` on the
engine's connection, no root needed; or a full tmpfs where mounting is permitted), then lets
space return. Afterwards every accepted start and signal took effect exactly once (the
workflows record each item once; the activity of each accepted item ran), a call that was
refused took no effect, no run is stuck and every history replays cleanly.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from duralua.codec import decode

from .support import (
    CLOSED,
    HERE,
    Procs,
    brief,
    connect_ro,
    count,
    has_traceback,
    queued_requests,
    result_of,
    runs,
    wf_cli,
)


def _drive(procs: Procs, db: Path, log: Path, fault: str) -> tuple[dict[str, Any], str]:
    out = db.parent.parent / "summary.json" if fault == "fill" else db.parent / "summary.json"
    proc = procs.python(
        HERE / "diskfull_driver.py", "--db", str(db), "--log", str(log), "--out", str(out), "--fault", fault,
        name=f"diskfull-{fault}",
    )  # fmt: skip
    code = proc.wait(120)
    if code is None:
        proc.kill()
    stderr = proc.stderr()
    assert code == 0 and out.exists(), (
        f"the driver {'hung' if code is None else f'exited {code}'} (stdout {proc.stdout()!r}):\n{stderr[-3000:]}"
    )
    return json.loads(out.read_text()), stderr


def _check(db: Path, log: Path, summary: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    starts = {k: v["state"] for k, v in summary["starts"].items()}
    signals = {k: v["state"] for k, v in summary["signals"].items()}
    during = [v["state"] for v in [*summary["starts"].values(), *summary["signals"].values()] if v["phase"] == "full"]
    if all(s == "accepted" for s in during):
        problems.append(f"TEST PROBLEM: the fault ({summary['fault']}) made no call fail or wait")

    rows = runs(db)
    by_wid: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_wid.setdefault(row["workflow_id"], []).append(row)
    recorded: dict[str, Counter[str]] = {}
    for wid, state in starts.items():
        chain = by_wid.get(wid, [])
        if state == "accepted" and len(chain) != 1:
            problems.append(f"accepted start {wid}: {len(chain)} run(s)")
        if state == "refused" and chain:
            problems.append(f"refused start {wid} took effect anyway: {[brief(r) for r in chain]}")
        if len(chain) > 1:
            problems.append(f"start {wid} ({state}) made {len(chain)} runs")
        for row in chain:
            if row["status"] != "completed":
                problems.append(f"{wid} ({state} start) did not complete: {brief(row)}")
                continue
            value = result_of(row)
            items = value.get("items", []) if isinstance(value, dict) else []
            recorded.setdefault(wid, Counter()).update(items)

    delivered = _delivered(db)
    ran = Counter(log.read_text().split()) if log.exists() else Counter()
    for key, state in signals.items():
        wid = key.split("/")[0]
        n, got = delivered[key], recorded.get(wid)
        if state == "accepted" and starts.get(wid) == "accepted":
            if n != 1:
                problems.append(f"accepted signal {key} was delivered {n} time(s) (history)")
            if got is not None and got[key] != 1:
                problems.append(f"accepted signal {key} is {got[key]} time(s) in its workflow's result")
            if ran[key] < 1:
                problems.append(f"the activity of accepted signal {key} never ran")
        elif state == "refused" and n:
            problems.append(f"refused signal {key} was delivered {n} time(s)")
        elif n > 1:
            problems.append(f"signal {key} ({state}) was delivered {n} times")

    open_runs = [f"{r['workflow_id']}: {brief(r)}" for r in rows if r["status"] not in CLOSED]
    if open_runs:
        problems.append(f"runs left open: {open_runs}")
    for table in ("inputs", "tasks", "timers"):
        left = count(db, table)
        if left:
            problems.append(f"{left} row(s) left in {table}")
    if queued_requests(db):
        problems.append(f"{queued_requests(db)} request(s) never applied")

    replay = wf_cli(db, "replay", "--all", "--json", timeout=120)
    if replay.returncode != 0 or has_traceback(replay.stderr):
        problems.append(f"`workflow replay --all` exited {replay.returncode}: {replay.stdout[-1500:]}"
                        f"{replay.stderr[-1500:]}")  # fmt: skip
    return problems


def _delivered(db: Path) -> Counter[str]:
    """How often each "<wid>/<item>" message reached a run, from the stored histories."""
    conn = connect_ro(db)
    try:
        rows = conn.execute("SELECT r.workflow_id, h.record FROM history h JOIN runs r USING (run_id)").fetchall()
    finally:
        conn.close()
    out: Counter[str] = Counter()
    for wid, record in rows:
        for job in decode(record).get("jobs", []):
            if job.get("type") == "Signal" and job.get("topic") == "item":
                out.update(f"{wid}/{p}" for p in job.get("payloads", []))
    return out


def _problems(problems: list[str], limit: int = 40) -> str:
    more = f"\n... and {len(problems) - limit} more" if len(problems) > limit else ""
    return "\n".join(problems[:limit]) + more


def _report(summary: dict[str, Any], log: Path) -> str:
    tally = (Counter(f"{v['phase']} {v['via']} {v['state']}" for v in summary["starts"].values()),
             Counter(f"{v['phase']} {v['via']} {v['state']}" for v in summary["signals"].values()))  # fmt: skip
    ran = Counter(log.read_text().split()) if log.exists() else Counter()
    dups = {k: n for k, n in ran.items() if n > 1}
    return (
        f"\n(fault: {summary['fault']} for {summary.get('full_seconds')} s; starts {dict(tally[0])}, "
        f"signals {dict(tally[1])}; activities run more than once (allowed: at least once): {len(dups)}; "
        f"first call errors: {summary['errors'][:3]})"
    )


def test_disk_full_max_page_count(tmp_path: Path, procs: Procs) -> None:
    db, log = tmp_path / "full.db", tmp_path / "activities.log"
    summary, _stderr = _drive(procs, db, log, "pragma")
    problems = _check(db, log, summary)
    assert not problems, _problems(problems) + _report(summary, log)


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Any:
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    try:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
                              capture_output=True, text=True, timeout=20)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=20)


@pytest.mark.slow
def test_disk_full_tmpfs(small_tmpfs: Path, tmp_path: Path, procs: Procs) -> None:
    db, log = small_tmpfs / "full.db", tmp_path / "activities.log"
    try:
        summary, _stderr = _drive(procs, db, log, "fill")
        problems = _check(db, log, summary)
    finally:
        procs.kill_all()  # nothing may keep the mount busy
    assert not problems, _problems(problems) + _report(summary, log)
