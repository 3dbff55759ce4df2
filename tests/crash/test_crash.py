"""Crash safety with a real process killed by SIGKILL (no mocks)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from duralua.codec import decode
from duralua.embedded.store import Store

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
N = 200
KILLS = 20


def expected(i: int) -> dict[str, int]:
    acc = i
    for _ in range(3):
        acc = acc * 2 + 1
    bonus = i * 10
    return {"i": i, "value": acc + bonus, "bonus": bonus}


def _spawn(db: Path, log: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
    return subprocess.Popen(
        [sys.executable, str(HERE / "driver.py"), "--db", str(db), "--log", str(log), "--n", str(N), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _send_signals(db: Path, ids: list[int]) -> None:
    store = Store(db)
    with store.transaction() as conn:
        for i in ids:
            body = {"pid": f"mixed-{i}", "topic": "go", "payloads": [{"bonus": i * 10}], "sender": ""}
            Store.add_request(conn, "signal", body, time.time_ns())
    store.close()


def test_sigkill_many_times_loses_nothing(tmp_path: Path) -> None:
    db, log = tmp_path / "crash.db", tmp_path / "activities.log"
    rng = random.Random(1234)
    pending_signals = list(range(N))
    rng.shuffle(pending_signals)
    proc = _spawn(db, log, "--start")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "READY", proc.stderr.read() if proc.stderr else ""
    for kill in range(KILLS):
        batch, pending_signals = pending_signals[: N // KILLS], pending_signals[N // KILLS :]
        # Signals are queued durably in the database while the engine is up (or down).
        _send_signals(db, batch)
        time.sleep(rng.uniform(0.05, 0.6))
        _kill(proc)
        if kill < KILLS - 1:
            proc = _spawn(db, log, "--start" if kill % 2 else "")
            time.sleep(rng.uniform(0.0, 0.3))
    _send_signals(db, pending_signals)
    final = _spawn(db, log, "--until-done")
    out, err = final.communicate(timeout=240)
    assert "ALL DONE" in out, err

    store = Store(db)
    rows = store.runs("")
    by_id: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_id.setdefault(str(row["workflow_id"]), []).append(row)
    assert len(by_id) == N
    for i in range(N):
        runs = by_id[f"mixed-{i}"]
        assert len(runs) == 1, f"workflow {i} ran {len(runs)} times"
        assert runs[0]["status"] == "completed", runs[0]
        assert decode(str(runs[0]["result"])) == expected(i)
    ran = set(log.read_text().split())
    missing = {f"{i}:{s}" for i in range(N) for s in (1, 2, 3)} - ran
    assert not missing, f"activities never ran: {sorted(missing)[:10]}"
    assert store.db.execute("SELECT COUNT(*) FROM requests WHERE state = 'queued'").fetchone()[0] == 0
    assert store.db.execute("SELECT COUNT(*) FROM inputs").fetchone()[0] == 0
    store.close()
    assert json.dumps(expected(0))  # the expectation itself is well-formed


def test_sleeper_killed_mid_sleep_completes_after_deadline(tmp_path: Path) -> None:
    db = tmp_path / "sleep.db"
    script = (
        "import asyncio, sys\n"
        "from duralua import App\n"
        f"app = App({str(HERE / 'app')!r}, log=None)\n"
        "async def main():\n"
        f"    async with app.engine({str(db)!r}) as wf:\n"
        "        if sys.argv[1] == 'start':\n"
        "            await wf.start('crash:sleeper', 'crash:worker', 2, workflow_id='sleepy')\n"
        "        print('READY', flush=True)\n"
        "        print('RESULT', (await wf.result('sleepy'))['slept'], flush=True)\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(HERE.parents[1] / "src")}
    p = subprocess.Popen([sys.executable, "-c", script, "start"], stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout is not None and p.stdout.readline().strip() == "READY"
    time.sleep(0.5)
    _kill(p)  # type: ignore[arg-type]
    time.sleep(2.5)  # the deadline passes while nothing runs
    p = subprocess.Popen([sys.executable, "-c", script, "resume"], stdout=subprocess.PIPE, text=True, env=env)
    out, _ = p.communicate(timeout=30)
    assert p.stdout is not None
    p.stdout.close()
    lines = out.split("\n")
    assert lines[0] == "READY"
    assert lines[1].startswith("RESULT")
    assert float(lines[1].split()[1]) >= 2.0
    store = Store(db)
    hist = store.history(str(store.latest_run("sleepy")["run_id"]))  # type: ignore[index]
    # Exactly one timer was started: the restart did not sleep again.
    timers = [c for a in hist for c in a["commands"] if c["type"] == "StartTimer"]
    assert len(timers) == 1
    store.close()
