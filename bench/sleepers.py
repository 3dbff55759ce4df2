"""Many workflows sleeping at once on the embedded engine: peak RSS, wake throughput, and all
complete — also when the engine process is restarted while they sleep.

Every sleeper sleeps until one absolute deadline (``bench:sleep_until``), so all timers are due
at the same instant however long starting took; the wake throughput is the number of sleepers
divided by the time from that deadline until the last one completed (counted in-process from
the engine's lifecycle events, so polling costs nothing). Runs are started in waves of
``--wave`` concurrent starts, as a service receiving requests would, not as 100,000 pending
asyncio tasks. Each phase runs in its own subprocess so peak RSS (ru_maxrss) is the engine's
alone. ``--compare`` sizes run first, so one run prints the throughput at 10k next to 100k.

    python bench/sleepers.py [--n 100000] [--compare 10000,30000] [--sleep 8] [--json]

``BENCH_GC=python`` runs the engine with Python's collector thresholds (``gc_tuning=False``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
APP = HERE / "apps" / "sleepers"
sys.path.insert(0, str(HERE))

from _common import machine_facts  # noqa: E402


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def _phase(db: str, n: int, deadline_ns: int, start: bool, stop_when_started: bool, wave: int,
                 cache: int | None) -> dict[str, Any]:  # fmt: skip
    from duralua import App
    from duralua.lifecycle import RUN_COMPLETED, LifecycleEvent

    app = App(APP, log=None)
    if not start:
        # After a restart: wait for those the first process did not complete.
        import sqlite3

        with sqlite3.connect(db) as conn:
            n = int(conn.execute("SELECT COUNT(*) FROM runs WHERE status != 'completed'").fetchone()[0])
    done = 0
    last_ns = 0
    all_done = asyncio.Event()

    def on_event(event: LifecycleEvent) -> None:
        nonlocal done, last_ns
        if event.kind == RUN_COMPLETED:
            done += 1
            last_ns = time.time_ns()
            if done >= n:
                all_done.set()

    app.lifecycle.subscribe(on_event)
    kw: dict[str, Any] = {} if cache is None else {"cache_size": cache}
    if os.environ.get("BENCH_GC") == "python":
        kw["gc_tuning"] = False  # Python's collector thresholds, as before session 6
    out: dict[str, Any] = {"n": n}
    t0 = time.perf_counter()
    boot_ns = time.time_ns()  # after a restart, the engine wakes the due runs as soon as it is up
    async with app.engine(db, **kw) as wf:
        out["boot_s"] = time.perf_counter() - t0
        if start:
            deadline_ms = deadline_ns // 1_000_000
            for first in range(0, n, wave):
                count = min(wave, n - first)
                await asyncio.gather(*[wf.start("bench:sleep_until", "bench:worker", deadline_ms)
                                       for _ in range(count)])  # fmt: skip
            out["started_s"] = time.perf_counter() - t0
            out["started_before_deadline_s"] = (deadline_ns - time.time_ns()) / 1e9
            out["rss_all_started_mb"] = _rss_mb()
            if stop_when_started:
                out["completed"] = done
                out["rss_end_mb"] = _rss_mb()
                out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                return out
        await asyncio.sleep(max((deadline_ns - time.time_ns()) / 1e9, 0))
        woke_ns = max(deadline_ns, time.time_ns() if start else boot_ns)
        cpu0 = time.process_time()
        await all_done.wait()
        cpu = time.process_time() - cpu0
    wake_s = max(last_ns - woke_ns, 1) / 1e9
    out.update(
        completed=done,
        wake_s=wake_s,
        wakes_per_s=n / wake_s,
        wake_cpu_s=cpu,
        wakes_per_cpu_s=n / cpu if cpu > 0 else float("nan"),
        rss_end_mb=_rss_mb(),
        rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    return out


def _child(args: argparse.Namespace) -> None:
    out = asyncio.run(_phase(args.db, args.n, args.deadline_ns, args.start, args.stop_when_started, args.wave,
                             args.cache))  # fmt: skip
    print(json.dumps(out))


def _run(db: str, n: int, deadline_ns: int, wave: int, cache: int | None, *extra: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "--db", db, "--n", str(n), "--deadline-ns", str(deadline_ns),
           "--wave", str(wave), *extra]  # fmt: skip
    if cache is not None:
        cmd += ["--cache", str(cache)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"phase failed ({' '.join(cmd)}):\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _deadline(n: int, sleep_s: float, start_rate: float) -> int:
    """Late enough that all n are started (at ``start_rate``/s, pessimistic) before it."""
    return time.time_ns() + int((sleep_s + 1.0 + n / start_rate) * 1e9)


def measure(n: int, sleep_s: float, start_rate: float, wave: int, cache: int | None, restart: bool) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="duralua-sleepers-")
    result: dict[str, Any] = {"fresh": _run(f"{tmp}/a.db", n, _deadline(n, sleep_s, start_rate), wave, cache,
                                            "--start")}  # fmt: skip
    if restart:
        # Start them all, stop the engine while they sleep, start a new process after the deadline.
        deadline = _deadline(n, sleep_s, start_rate)
        first = _run(f"{tmp}/b.db", n, deadline, wave, cache, "--start", "--stop-when-started")
        time.sleep(max((deadline - time.time_ns()) / 1e9, 0) + 1.0)
        result["before_restart"] = first
        result["after_restart"] = _run(f"{tmp}/b.db", n, deadline, wave, cache)
    for name in ("a.db", "b.db"):
        for suffix in ("", "-wal", "-shm"):
            path = Path(tmp) / (name + suffix)
            if path.exists():
                path.unlink()
    return result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--compare", default="", help="comma-separated sizes measured first, e.g. 10000,30000")
    p.add_argument("--sleep", type=float, default=8.0, help="seconds between the last start and the deadline")
    p.add_argument("--start-rate", type=float, default=1000.0, help="pessimistic starts/s to place the deadline")
    p.add_argument("--wave", type=int, default=1000, help="concurrent starts")
    p.add_argument("--cache", type=int, help="live-state cache size (default: the engine's)")
    p.add_argument("--no-restart", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", action="store_true")
    p.add_argument("--db")
    p.add_argument("--deadline-ns", type=int)
    p.add_argument("--start", action="store_true")
    p.add_argument("--stop-when-started", action="store_true")
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    sizes = [int(s) for s in args.compare.split(",") if s.strip()]
    results: dict[str, Any] = {"facts": machine_facts(("lupa",), tempfile.gettempdir()), "sleep_s": args.sleep,
                               "runs": {}}  # fmt: skip
    for n in [*sizes, args.n]:
        # Every size also after a restart: no run is cached then, so the two sizes compare the
        # cost of a wake alone (fresh, the smaller size still has its last-started runs cached).
        results["runs"][str(n)] = measure(n, args.sleep, args.start_rate, args.wave, args.cache,
                                          restart=not args.no_restart)  # fmt: skip
    if args.json:
        print(json.dumps(results, indent=2))
        return
    f = results["facts"]
    print(f"sleepers on the embedded engine (synchronous=FULL), {f['cpus_usable']} CPUs {f['cpu_model']}, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'n':>8} {'start s':>8} {'wake s':>8} {'wakes/s':>9} {'wakes/CPU-s':>12} {'peak RSS MB':>12} "
          f"{'completed':>10}")  # fmt: skip
    for n, r in results["runs"].items():
        fr = r["fresh"]
        print(f"{int(n):>8} {fr['started_s']:>8.1f} {fr['wake_s']:>8.1f} {fr['wakes_per_s']:>9.0f} "
              f"{fr['wakes_per_cpu_s']:>12.0f} {fr['rss_mb']:>12.0f} {fr['completed']:>10}")  # fmt: skip
        if fr["started_before_deadline_s"] < 0:
            print(f"  warning: the deadline passed {-fr['started_before_deadline_s']:.1f}s before all were started "
                  "(raise --sleep or lower --start-rate): the wake figures are skewed")  # fmt: skip
    big = results["runs"][str(args.n)]
    if sizes:
        ref = results["runs"][str(sizes[0])]["fresh"]
        ratio = big["fresh"]["wakes_per_s"] / ref["wakes_per_s"]
        cpu_ratio = big["fresh"]["wakes_per_cpu_s"] / ref["wakes_per_cpu_s"]
        print(f"  wake throughput at {args.n} vs {sizes[0]}: {ratio:.2f} (wall), {cpu_ratio:.2f} (per CPU-second); "
              f"target >= 0.80: {'PASS' if ratio >= 0.8 else 'FAIL'}")  # fmt: skip
        if "after_restart" in big and "after_restart" in results["runs"][str(sizes[0])]:
            cold_ref = results["runs"][str(sizes[0])]["after_restart"]
            cold = big["after_restart"]["wakes_per_s"] / cold_ref["wakes_per_s"]
            print(f"  after a restart (no run cached): {cold_ref['wakes_per_s']:.0f} wakes/s at {sizes[0]}, "
                  f"{big['after_restart']['wakes_per_s']:.0f} at {args.n}: {cold:.2f}")  # fmt: skip
    rss = big["fresh"]["rss_mb"]
    print(f"  peak RSS at {args.n}: {rss:.0f} MB (target <= 250 MB: {'PASS' if rss <= 250 else 'FAIL'})")
    if "after_restart" in big:
        first, second = big["before_restart"], big["after_restart"]  # the target's restart: the big size
        ok = first["completed"] + second["completed"] >= args.n
        print(f"  restart: {first['completed']} done before the stop, {second['completed']} after the restart "
              f"({'PASS' if ok else 'FAIL'}); after restart: {second['wakes_per_s']:.0f} wakes/s, "
              f"peak RSS {second['rss_mb']:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
