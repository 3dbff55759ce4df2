"""Web UI with 10,000 runs in the database: how fast the runs list (and a run page) answers.

Fills a fresh database through the embedded engine (examples/shop order workflows with a
virtual clock, so their one-hour sleeps take no time; every tenth one left waiting on an
approval), serves it with the UI server of ``duralua ui --db`` and times HTTP requests over
loopback: the first page, filtered pages, a deep page and a run page. Target: the list page
under 300 ms. Prints; never fails.

    python bench/ui_list.py [--runs 10000] [--requests 30]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from duralua import App  # noqa: E402
from duralua.testing import WorkflowEnvironment  # noqa: E402
from duralua.ui import start_ui  # noqa: E402


async def fill(db: Path, runs: int) -> None:
    app = App(ROOT / "examples" / "shop", log=None)
    async with WorkflowEnvironment(app, db=db, synchronous="OFF") as env:
        for i in range(0, runs, 500):
            starts = []
            for j in range(i, min(i + 500, runs)):
                opts = {"workflow.search_attributes": {"Customer": f"c{j % 50}"}}
                if j % 10 == 0:
                    arg: dict[str, object] = {"id": j, "total": 5, "customer_id": "c"}
                    starts.append(env.start("app:approval_workflow", "app:worker", arg,
                                            workflow_id=f"approval-{j}", options=opts))  # fmt: skip
                else:
                    arg = {"id": j, "total": 30, "customer_id": "ada", "shipping_address": "1 Main"}
                    starts.append(env.start("app:order_workflow", "app:worker", arg,
                                            workflow_id=f"order-{j}", options=opts))  # fmt: skip
            await asyncio.gather(*starts)
            await env.idle()


def timed(client: httpx.Client, path: str, n: int) -> tuple[float, float, int]:
    client.get(path)  # warm
    samples = []
    size = 0
    for _ in range(n):
        began = time.perf_counter()
        resp = client.get(path)
        samples.append((time.perf_counter() - began) * 1000)
        assert resp.status_code == 200, (path, resp.status_code)
        size = len(resp.content)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    print(f"# {platform.machine()} {platform.processor() or ''}, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="duralua-ui-bench-") as tmp:
        db = Path(tmp) / "ui.db"
        began = time.perf_counter()
        asyncio.run(fill(db, args.runs))
        count = sqlite3.connect(db).execute("SELECT count(*) FROM runs").fetchone()[0]
        print(f"filled {count} runs in {time.perf_counter() - began:.1f} s")
        server = start_ui("127.0.0.1:0", db)
        try:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                run_id = (
                    sqlite3.connect(db).execute("SELECT run_id FROM runs WHERE workflow_id = 'order-5'").fetchone()[0]
                )
                print("| page | median ms | p95 ms | bytes |\n|---|---|---|---|")
                for label, path in [
                    ("runs list, first page", "/runs"),
                    ("status=running", "/runs?status=running"),
                    ("type=app:order_workflow", "/runs?type=app:order_workflow"),
                    ("search Customer=c7", "/runs?search=Customer%3Dc7"),
                    ("id contains 'order-99'", "/runs?q=order-99"),
                    ("page 150", "/runs?page=150"),
                    ("live refresh fragment", "/runs?fragment=1"),
                    ("run page (order, 5 activations)", f"/runs/{run_id}"),
                ]:
                    median, p95, size = timed(client, path, args.requests)
                    print(f"| {label} | {median:.1f} | {p95:.1f} | {size:,} |")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
