"""Crash-test driver: serves the crash app until every expected workflow is closed.

Started (and SIGKILLed) repeatedly by test_crash.py. Activity executions are appended to a
log file so the test can check that every activity ran at least once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from duralua import App, CallError
from duralua.embedded.store import Store

HERE = Path(__file__).parent


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--start", action="store_true", help="start the n workflows (idempotent)")
    parser.add_argument("--until-done", action="store_true")
    args = parser.parse_args()
    app = App(HERE / "app", log=None)
    log_fd = os.open(args.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    @app.function("crash:mark", worker="crash:worker")
    def mark(tag: str, acc: int) -> int:
        os.write(log_fd, f"{tag}\n".encode())
        return acc * 2 + 1

    async with app.engine(args.db, synchronous="FULL") as wf:
        if args.start:
            for i in range(args.n):
                try:
                    await wf.start(
                        "crash:mixed",
                        "crash:worker",
                        i,
                        workflow_id=f"mixed-{i}",
                        options={"workflow.id_reuse_policy": "reject_duplicate"},
                    )
                except CallError:
                    pass  # already started by an earlier (killed) incarnation
        print("READY", flush=True)
        while True:
            await asyncio.sleep(0.1)
            if args.until_done:
                store = Store(args.db)
                open_runs = store.runs("WHERE status NOT IN ('completed', 'failed', 'terminated')")
                store.close()
                if not open_runs:
                    print("ALL DONE", flush=True)
                    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
