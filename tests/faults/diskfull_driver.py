"""Disk-full driver: a mixed load on the engine while its database cannot grow.

Started by test_diskfull.py. Runs faults:collector workflows (each "item" message runs the
Python activity faults:note, which appends one line per execution to --log, then a timer),
starts and signals them through the Python API before, during and after the fault, and writes
a JSON summary of which calls returned (accepted), raised (refused) or timed out (unknown):

* ``--fault pragma``: ``PRAGMA max_page_count = <page_count>`` on the engine's connection
  (SQLite then reports SQLITE_FULL), raised back afterwards;
* ``--fault fill``: the database is on a small tmpfs; a filler file takes all free space,
  then is deleted.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DURALUA = Path(sys.executable).with_name("duralua")
CALL_TIMEOUT = 3.0
FULL_SECONDS = 3.0  # at least this long


class Load:
    """Calls and what became of them: ``{"state": accepted | refused | unknown, "phase", "via"}``."""

    def __init__(self, wf: Any, db: str) -> None:
        self.wf = wf
        self.db = db
        self.starts: dict[str, dict[str, str]] = {}
        self.signals: dict[str, dict[str, str]] = {}  # key "<wid>/<item>"
        self.errors: list[str] = []
        self.phase = "before"
        self._cli_slots = asyncio.Semaphore(4)

    async def _call(self, what: str, coro: Any) -> str:
        try:
            await asyncio.wait_for(coro, CALL_TIMEOUT)
        except TimeoutError:
            return "unknown"
        except Exception as exc:
            self.errors.append(f"{self.phase}: {what}: {type(exc).__name__}: {exc}")
            return "refused"
        return "accepted"

    async def _cli(self, what: str, *args: str) -> str:
        """`duralua workflow ...` in another process: exit 0 is accepted; any other outcome may
        still take effect later (the request can sit in the queue), so it is unknown."""
        async with self._cli_slots:
            # While the engine cannot write, waiting for it to apply the request is pointless.
            wait = ["--timeout", str(CALL_TIMEOUT)] if self.phase == "full" else []
            proc = await asyncio.create_subprocess_exec(
                str(DURALUA), "workflow", *args, *wait, "--dir", str(HERE / "app"), "--db", self.db,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            try:
                _out, err = await asyncio.wait_for(proc.communicate(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                return "unknown"
        if proc.returncode == 0:
            return "accepted"
        self.errors.append(f"{self.phase}: CLI {what} exited {proc.returncode}: {err.decode()[-300:]}")
        return "unknown"

    async def start(self, wid: str, via: str = "api") -> None:
        if via == "api":
            coro = self.wf.start("faults:collector", "faults:worker", wid, workflow_id=wid)
            state = await self._call(f"start {wid}", coro)
        else:
            state = await self._cli(f"start {wid}", "start", "faults:collector", json.dumps(wid), "--id", wid)
        self.starts[wid] = {"state": state, "phase": self.phase, "via": via}

    async def signal(self, wid: str, item: str, via: str = "api") -> None:
        if via == "api":
            state = await self._call(f"signal {wid}/{item}", self.wf.signal(wid, "item", item))
        else:
            state = await self._cli(f"signal {wid}/{item}", "signal", wid, "item", json.dumps(item))
        self.signals[f"{wid}/{item}"] = {"state": state, "phase": self.phase, "via": via}

    async def wave(self, tag: str, new: list[str], items: int, via: str = "api", most: int = 1000) -> None:
        """Start ``new`` workflows, then send ``items`` messages to every known one (to the
        first ``most``), concurrently."""
        await asyncio.gather(*(self.start(w, via) for w in new))
        targets = list(self.starts)[:most]
        await asyncio.gather(*(self.signal(w, f"{tag}{k}", via) for w in targets for k in range(items)))


class PragmaFault:
    def __init__(self, engine: Any) -> None:
        store = getattr(engine, "store", None)
        self.conn = getattr(store, "db", None)
        if self.conn is None:
            raise SystemExit("the engine has no store.db connection (sqlite3.Connection) to fault")
        self.normal = int(self.conn.execute("PRAGMA max_page_count").fetchone()[0])

    def on(self) -> str:
        pages = int(self.conn.execute("PRAGMA page_count").fetchone()[0])
        self.conn.execute(f"PRAGMA max_page_count = {pages}")
        return f"max_page_count {pages} (was {self.normal})"

    def off(self) -> None:
        self.conn.execute(f"PRAGMA max_page_count = {self.normal}")


class FillFault:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "filler"

    def on(self) -> str:
        written = 0
        chunk = b"\0" * 4096
        with open(self.path, "wb", buffering=0) as f:
            while True:
                try:
                    written += f.write(chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        return f"filler of {written} bytes"

    def off(self) -> None:
        self.path.unlink()


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fault", choices=["pragma", "fill"], required=True)
    args = parser.parse_args()

    from duralua import App

    app = App(HERE / "app")
    log_fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    @app.function("faults:note", worker="faults:worker")
    def note(tag: str) -> str:
        os.write(log_fd, f"{tag}\n".encode())
        return tag

    summary: dict[str, Any] = {}
    async with app.engine(args.db, synchronous="FULL") as wf:
        load = Load(wf, args.db)
        await load.wave("a", [f"c-{i}" for i in range(8)], 3)
        await asyncio.sleep(0.3)
        fault = PragmaFault(wf.engine) if args.fault == "pragma" else FillFault(Path(args.db).parent)
        load.phase = "full"
        summary["fault"] = fault.on()
        print("FULL", summary["fault"], flush=True)
        t0 = time.monotonic()
        await load.wave("b", [f"c-{i}" for i in range(8, 12)], 2)
        # From other processes: the CLI queues requests for this engine (its own connection
        # is not limited by the pragma, so they are accepted while the engine cannot write).
        await load.wave("e", ["c-20"], 1, via="cli", most=5)
        await load.wave("c", [f"c-{i}" for i in range(12, 14)], 1)
        await asyncio.sleep(max(0.0, FULL_SECONDS - (time.monotonic() - t0)))  # in-flight work hits it too
        summary["full_seconds"] = round(time.monotonic() - t0, 2)
        fault.off()
        load.phase = "after"
        print("SPACE BACK", flush=True)
        await load.wave("d", [f"c-{i}" for i in range(14, 18)], 2)
        await load.wave("f", ["c-22"], 1, via="cli", most=3)
        # Stop every workflow that exists (some starts that timed out may have taken effect),
        # then collect the outcomes, within one bounded wait (the test reports what is open).
        stop_errors: list[str] = []

        async def stop(wid: str) -> None:
            try:
                await asyncio.wait_for(wf.signal(wid, "stop"), 10)
            except Exception as exc:
                stop_errors.append(f"stop {wid}: {type(exc).__name__}: {exc}")

        await asyncio.gather(*(stop(w) for w in load.starts))
        outcomes: dict[str, Any] = {}

        async def outcome(wid: str) -> None:
            try:
                value, failure = await wf.outcome(wid)
                outcomes[wid] = {"result": value, "failure": failure.to_json() if failure else None}
            except Exception as exc:
                outcomes[wid] = {"error": f"{type(exc).__name__}: {exc}"}

        waits = [asyncio.ensure_future(outcome(w)) for w in load.starts]
        await asyncio.wait(waits, timeout=30)
        for w in waits:
            w.cancel()
        summary.update(
            starts=load.starts, signals=load.signals, errors=load.errors, stop_errors=stop_errors, outcomes=outcomes
        )
    Path(args.out).write_text(json.dumps(summary, indent=1, default=str))
    print("DONE", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
