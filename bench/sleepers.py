"""10,000 workflows sleeping at once on the embedded engine: peak RSS, and all complete —
also when the engine process is restarted while they sleep.

Each phase runs in its own subprocess so peak RSS (ru_maxrss) is the engine's alone.
    python bench/sleepers.py [--n 10000] [--sleep 8] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
APP = HERE / "apps" / "sleepers"


async def _phase(db: str, n: int, sleep_s: float, start: bool, stop_after: float | None) -> dict[str, float]:
    from duralua import App
    from duralua.embedded.store import Store

    app = App(APP, log=None)
    t0 = time.perf_counter()
    async with app.engine(db) as wf:
        if start:
            await asyncio.gather(*[wf.start("bench:sleeper", "bench:worker", sleep_s) for _ in range(n)])
        started = time.perf_counter() - t0
        while True:
            await asyncio.sleep(0.2)
            store = Store(db)
            done = store.db.execute("SELECT COUNT(*) FROM runs WHERE status = 'completed'").fetchone()[0]
            store.close()
            if done >= n or (stop_after is not None and time.perf_counter() - t0 > stop_after):
                break
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "started_s": started,
        "completed": float(done),
        "wall_s": time.perf_counter() - t0,
        "rss_mb": rss_mb,
    }


def _child(args: argparse.Namespace) -> None:
    out = asyncio.run(_phase(args.db, args.n, args.sleep, args.start, args.stop_after))
    print(json.dumps(out))


def _run(db: str, n: int, sleep_s: float, *extra: str) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", "--db", db, "--n", str(n), "--sleep", str(sleep_s), *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--sleep", type=float, default=8.0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", action="store_true")
    p.add_argument("--db")
    p.add_argument("--start", action="store_true")
    p.add_argument("--stop-after", type=float)
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    tmp = tempfile.mkdtemp(prefix="duralua-sleepers-")
    one = _run(f"{tmp}/a.db", args.n, args.sleep, "--start")
    # Restart: start them, stop the engine while they sleep, start a new process later.
    first = _run(f"{tmp}/b.db", args.n, args.sleep, "--start", "--stop-after", "1")
    time.sleep(args.sleep)
    second = _run(f"{tmp}/b.db", args.n, args.sleep)
    result = {
        "n": args.n,
        "sleep_s": args.sleep,
        "single_run": one,
        "before_restart": first,
        "after_restart": second,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"sleepers: {args.n} workflows each sleeping {args.sleep:g}s on the embedded engine (synchronous=FULL)")
    print(f"  start all: {one['started_s']:.2f}s; all {int(one['completed'])} completed in {one['wall_s']:.2f}s")
    verdict = "PASS" if one["rss_mb"] < 400 else "FAIL"
    print(f"  peak RSS: {one['rss_mb']:.0f} MB (target < 400 MB: {verdict})")
    ok = second["completed"] >= args.n
    print(
        f"  restart: {int(first['completed'])} done before the stop, {int(second['completed'])} after restart "
        f"({'PASS' if ok else 'FAIL'}), peak RSS after restart {second['rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
