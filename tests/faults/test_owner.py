"""One database, one engine (issue 7: single owner; storage faults).

A second `duralua run` on a database that a first one serves must refuse at once with a clear
error, whatever path names the database (a symlink, a hard link, the same path after its
`.lock` file was deleted); no workflow or activity may run twice. A database deleted or
replaced under a running engine must stop it with an error naming the file.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from .support import Procs, brief, has_traceback, latest, parallel, result_of, wait_until, wf_cli

N_WORKFLOWS = 2
STEPS = 6  # each workflow runs STEPS activities with PAUSE timers between them
PAUSE = "1s"  # long enough for a second engine to come up while work is in flight
REFUSE_TIMEOUT = 15.0


def _start_lonely(db: Path) -> list[str]:
    def start(i: int) -> str:
        proc = wf_cli(db, "start", "faults:lonely", f'"w{i}"', str(STEPS), f'"{PAUSE}"', "--id", f"lonely-{i}")
        return f"start lonely-{i} exited {proc.returncode}: {proc.stderr.strip()[-300:]}" if proc.returncode else ""

    return [p for p in parallel(start, [(i,) for i in range(N_WORKFLOWS)]) if p]


def _executions(*stderr_texts: str) -> Counter[str]:
    """Activity executions, from the `EXEC <tag>` lines that faults:marked prints."""
    tags: Counter[str] = Counter()
    for text in stderr_texts:
        tags.update(re.findall(r"EXEC (w\d+:\d+)", text))
    return tags


def _check_refusal(code: int | None, stderr: str, path: Path, label: str, problems: list[str]) -> None:
    if code is None:
        problems.append(f"{label}: the second `duralua run` did not refuse within {REFUSE_TIMEOUT:.0f} s (it serves)")
        return
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    if code == 0:
        problems.append(f"{label}: the second `duralua run` exited 0: {stderr[-400:]}")
    if has_traceback(stderr):
        problems.append(f"{label}: the second `duralua run` printed a traceback:\n{stderr[-1500:]}")
    elif not lines or not lines[0].lower().startswith("error") or len(lines) > 3:
        problems.append(f"{label}: expected a one-line error (plus an optional hint), got:\n{stderr[-800:]}")
    elif "database" not in lines[0].lower() and path.name not in lines[0]:
        problems.append(f"{label}: the error does not say which database is taken: {lines[0]}")


@pytest.mark.parametrize("how", ["symlink", "hardlink", "deleted-lock"])
def test_second_engine_on_the_same_database_refuses(tmp_path: Path, procs: Procs, how: str) -> None:
    db = tmp_path / "owner.db"
    first = procs.serve(db, name="first")
    problems = _start_lonely(db)
    # Wait until every workflow has started its first activity: work is in flight.
    wait_until(lambda: len(_executions(first.stderr())) >= N_WORKFLOWS, deadline=20)

    if how == "symlink":
        other = tmp_path / "alias.db"
        other.symlink_to(db)
    elif how == "hardlink":
        other = tmp_path / "hard.db"
        os.link(db, other)
    elif how == "deleted-lock":
        locks = list(tmp_path.glob("owner.db*.lock")) + list(tmp_path.glob("*.lock"))
        for lock in set(locks):
            lock.unlink()
        other = db
    second = procs.serve(other, name="second", ready=False)
    code = second.wait(REFUSE_TIMEOUT)
    if code is None:
        time.sleep(2)  # let the intruder do its damage, so the count below shows it
        second.kill()
    _check_refusal(code, second.stderr(), other, how, problems)

    def all_done() -> bool:
        rows = latest(db)
        return all(rows.get(f"lonely-{i}", {}).get("status") in ("completed", "failed") for i in range(N_WORKFLOWS))

    wait_until(all_done, deadline=30)
    if first.alive():
        first.terminate(10)
    rows = latest(db)
    for i in range(N_WORKFLOWS):
        row = rows.get(f"lonely-{i}")
        if row is None or row["status"] != "completed" or result_of(row) != {"id": f"w{i}", "steps": STEPS}:
            problems.append(f"lonely-{i}: {brief(row)}")
    ran = _executions(first.stderr(), second.stderr())
    twice = {tag: n for tag, n in ran.items() if n > 1}
    if twice:
        problems.append(f"activities ran more than once: {dict(sorted(twice.items()))}")
    missing = {f"w{i}:{s}" for i in range(N_WORKFLOWS) for s in range(1, STEPS + 1)} - set(ran)
    if missing:
        problems.append(f"activities never ran: {sorted(missing)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_database_deleted_or_replaced_under_a_running_engine(tmp_path: Path, procs: Procs, how: str) -> None:
    db = tmp_path / "victim.db"
    server = procs.serve(db)
    # The engine is busy: workflows with activities and timers in flight (no CLI call touches
    # the path afterwards, so whatever is written there is the engine's doing).
    problems = _start_lonely(db)
    wait_until(lambda: len(_executions(server.stderr())) >= N_WORKFLOWS, deadline=20)
    replacement = tmp_path / "replacement.db"
    if how == "deleted":
        db.unlink()
    else:
        conn = sqlite3.connect(replacement)
        conn.execute("CREATE TABLE unrelated(x)")
        conn.execute("INSERT INTO unrelated VALUES (42)")
        conn.commit()
        conn.close()
        original = replacement.read_bytes()
        os.replace(replacement, db)
    code = server.wait(20)
    stderr = server.stderr()
    if code is None:
        problems.append(f"database {how}: the engine kept running for 20 s without noticing")
        server.kill()
    else:
        if code == 0:
            problems.append(f"database {how}: the engine stopped with exit code 0:\n{stderr[-600:]}")
        if str(db) not in stderr and db.name not in stderr:
            problems.append(f"database {how}: the engine's error does not name {db.name}:\n{stderr[-600:]}")
        if has_traceback(stderr):
            problems.append(f"database {how}: traceback instead of a clear error:\n{stderr[-1500:]}")
    if how == "deleted" and db.exists():
        problems.append("the deleted database was silently re-created")
    # (The old database's -wal file is still next to it, so only the raw bytes tell.)
    if how == "replaced" and db.read_bytes() != original:
        problems.append("the engine wrote into the file that replaced its database")
    assert not problems, "\n".join(problems)
