"""What an evicted live state costs: long histories and a cache that cannot hold every run.

* ``long``: one workflow of ``--calls`` activity calls (3 history events each: 1,000 calls is a
  3,000-event history), run with the default live-state cache and with its state evicted after
  every activation (``cache_size=0``: every activation rebuilds the Lua state by replaying the
  whole history, so the total is quadratic in the history's length). Target: ratio <= 5.
* ``pressure``: the same length of history, but its activity is an async Python function (its
  results arrive in later batches, so other runs activate between two of its steps) while
  ``--churn`` short runs (5 such calls each, a new one as soon as one ends) go through a cache
  of 8 entries. Measured with the engine's cost-aware eviction and with plain LRU (emulated:
  every entry the same cost and size), against the long run alone.
* ``many``: ``--n`` workflows started concurrently, each sleeping 200 ms then calling three
  Python activities, with the default cache, with a cache that holds every run, and the same
  workflows without the timer (every activation a cache hit: the "cached" throughput).
  Target: throughput with the default cache >= 70% of the cached one.

Each measurement runs in its own subprocess on a fresh database (synchronous=FULL).

    python bench/evicted.py [--calls 1000] [--n 5000] [--only long|pressure|many] [--repeat 5] [--json]

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

ALL_CACHED = 1_000_000  # a cache_size no run count here reaches


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _app_and_engine(db: str, cache: str) -> tuple[Any, Any]:
    from duralua import App
    from duralua.embedded.engine import EmbeddedEngine

    app = App(APP, log=None)

    @app.function("bench:py_step", worker="bench:worker")
    def py_step(x: int) -> int:
        return x + 1

    @app.function("bench:aecho", worker="bench:worker")
    async def aecho(x: int) -> int:
        return x

    kw: dict[str, Any] = {}
    if cache == "none":
        kw = {"cache_size": 0}
    elif cache == "all":
        kw = {"cache_size": ALL_CACHED, "cache_memory": 1 << 40}
    elif cache in ("small", "small-lru"):
        kw = {"cache_size": 8}
        if cache == "small-lru":
            from duralua.embedded import livecache

            # Plain LRU, for comparison: GreedyDual-Size with equal costs and sizes is LRU.
            livecache.rebuild_cost = lambda live: 1  # type: ignore[assignment]
            livecache.entry_size = lambda live: 1  # type: ignore[assignment]
    if os.environ.get("BENCH_GC") == "python":
        kw["gc_tuning"] = False  # Python's collector thresholds, as before session 6
    return app, EmbeddedEngine(app.catalog, app.runtime, db, events=app.lifecycle, **kw)


async def _long(db: str, calls: int, cache: str) -> dict[str, Any]:
    from duralua.app import Workflows

    app, engine = _app_and_engine(db, cache)
    async with Workflows(app, engine) as wf:
        t0, c0 = time.perf_counter(), time.process_time()
        result = await wf.result(await wf.start("bench:long", "bench:worker", calls, workflow_id="long"))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        length = engine.history("long").length()
    assert result == calls * (calls + 1) // 2, result
    per_activation = wall * 1000 / (calls + 1)
    return {"calls": calls, "events": length, "wall_s": wall, "cpu_s": cpu, "ms_per_activation": per_activation,
            "misses": engine.cache_misses, "rss_mb": _rss_mb()}  # fmt: skip


async def _pressure(db: str, calls: int, churn: int, cache: str) -> dict[str, Any]:
    from duralua.app import Workflows

    app, engine = _app_and_engine(db, cache)
    misses: dict[str, int] = {}
    replayed: dict[str, int] = {}
    rebuild = engine._machine

    def counting(run_id: str, row: dict[str, Any]) -> Any:
        miss = engine._cache.get(run_id) is None
        live = rebuild(run_id, row)
        if miss:
            misses[run_id] = misses.get(run_id, 0) + 1
            replayed[run_id] = replayed.get(run_id, 0) + len(live.history.activations)
        return live

    engine._machine = counting  # type: ignore[method-assign]
    async with Workflows(app, engine) as wf:
        t0, c0 = time.perf_counter(), time.process_time()
        long_pid = await wf.start("bench:long_async", "bench:worker", calls, workflow_id="long")
        long_done = asyncio.ensure_future(wf.result(long_pid))
        started = 0

        async def feeder() -> None:
            # Keeps `churn` short runs (5 calls each) in flight for as long as the long run lasts.
            nonlocal started
            while not long_done.done():
                started += 1
                await wf.result(await wf.start("bench:long_async", "bench:worker", 5))

        feeders = [asyncio.ensure_future(feeder()) for _ in range(churn)]
        result = await long_done
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        await asyncio.gather(*feeders)
        long_run = (await engine.describe("long")).run_id
    assert result == calls * (calls + 1) // 2, result
    return {"calls": calls, "churn": churn, "short_runs": started, "cache": cache, "wall_s": wall, "cpu_s": cpu,
            "long_misses": misses.get(long_run, 0), "long_replayed": replayed.get(long_run, 0),
            "all_misses": engine.cache_misses, "rss_mb": _rss_mb()}  # fmt: skip


async def _many(db: str, n: int, cache: str, timer_ms: int) -> dict[str, Any]:
    from duralua.app import Workflows

    app, engine = _app_and_engine(db, cache)
    async with Workflows(app, engine) as wf:
        t0, c0 = time.perf_counter(), time.process_time()
        pids = await asyncio.gather(*[wf.start("bench:timer_steps", "bench:worker", i, timer_ms) for i in range(n)])
        started = time.perf_counter() - t0
        results = await asyncio.gather(*[wf.result(p) for p in pids])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    wrong = sum(1 for i, r in enumerate(results) if r != i + 3)
    return {"n": n, "cache": cache, "timer_ms": timer_ms, "wall_s": wall, "start_s": started, "cpu_s": cpu,
            "wf_per_s": n / wall, "wf_per_cpu_s": n / cpu, "wrong": wrong, "hits": engine.cache_hits,
            "misses": engine.cache_misses, "evictions": engine.cache_evictions, "rss_mb": _rss_mb()}  # fmt: skip


def _child(args: argparse.Namespace) -> None:
    if args.child == "long":
        out = asyncio.run(_long(args.db, args.calls, args.cache))
    elif args.child == "pressure":
        out = asyncio.run(_pressure(args.db, args.calls, args.churn, args.cache))
    else:
        out = asyncio.run(_many(args.db, args.n, args.cache, args.timer_ms))
    print(json.dumps(out))


def _run(kind: str, cache: str, args: argparse.Namespace, *extra: str) -> dict[str, Any]:
    db = tempfile.mkdtemp(prefix="duralua-evicted-") + "/e.db"
    cmd = [sys.executable, __file__, "--child", kind, "--db", db, "--cache", cache, "--calls", str(args.calls),
           "--n", str(args.n), "--churn", str(args.churn), *extra]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{kind}/{cache} failed:\n{res.stderr[-3000:]}")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--churn", type=int, default=50)
    p.add_argument("--only", choices=("long", "pressure", "many"))
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", choices=("long", "pressure", "many"))
    p.add_argument("--db")
    p.add_argument("--cache", default="default", choices=("default", "none", "all", "small", "small-lru"))
    p.add_argument("--timer-ms", type=int, default=200)
    p.add_argument("--repeat", type=int, default=1, help="many: rounds of the three measurements (medians shown)")
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    out: dict[str, Any] = {"facts": machine_facts(("lupa",), tempfile.gettempdir()), "load": os.getloadavg()[0]}
    if args.only in (None, "long"):
        out["long_cached"] = _run("long", "default", args)
        out["long_evicted"] = _run("long", "none", args)
    if args.only in (None, "pressure"):
        out["pressure_alone"] = _run("pressure", "default", args, "--churn", "0")
        out["pressure_cost"] = _run("pressure", "small", args)
        out["pressure_lru"] = _run("pressure", "small-lru", args)
    if args.only in (None, "many"):
        # Interleaved repeats, median of each: the machine's noise (±30%) is larger than the gap.
        rounds = [
            (_run("many", "default", args), _run("many", "all", args), _run("many", "default", args, "--timer-ms", "0"))
            for _ in range(args.repeat)
        ]
        for i, key in enumerate(("many_default", "many_all_cached", "many_no_timer")):
            ordered = sorted((r[i] for r in rounds), key=lambda x: x["wf_per_s"])
            out[key] = ordered[len(ordered) // 2]
            out[key]["all_wf_per_s"] = [round(r[i]["wf_per_s"]) for r in rounds]
    if args.json:
        print(json.dumps(out, indent=2))
        return
    f = out["facts"]
    print(f"evicted live states, embedded engine (synchronous=FULL), {f['cpus_usable']} CPUs {f['cpu_model']}, "
          f"load average {out['load']:.1f}")  # fmt: skip
    if "long_cached" in out:
        c, e = out["long_cached"], out["long_evicted"]
        ratio = e["wall_s"] / c["wall_s"]
        print(f"  long ({c['events']} events): cached {c['wall_s']:.2f}s ({c['ms_per_activation']:.2f} ms/activation), "
              f"evicted every activation {e['wall_s']:.2f}s ({e['ms_per_activation']:.2f} ms/activation): "
              f"{ratio:.1f}x (target <= 5x: {_verdict(ratio <= 5)}); CPU {e['cpu_s'] / c['cpu_s']:.1f}x")  # fmt: skip
    if "pressure_alone" in out:
        a, cost, lru = out["pressure_alone"], out["pressure_cost"], out["pressure_lru"]
        print(f"  pressure ({a['calls']}-call run, async activity; {cost['churn']} short runs in flight, "
              f"{cost['short_runs']} in all, cache of 8): alone "
              f"{a['wall_s']:.2f}s; cost-aware {cost['wall_s']:.2f}s, the long run rebuilt {cost['long_misses']} "
              f"times replaying {cost['long_replayed']:,} activations ({cost['all_misses']:,} rebuilds in all); "
              f"LRU {lru['wall_s']:.2f}s, rebuilt {lru['long_misses']} times replaying {lru['long_replayed']:,} "
              f"({lru['all_misses']:,} in all)")  # fmt: skip
    if "many_default" in out:
        d, a, nt = out["many_default"], out["many_all_cached"], out["many_no_timer"]
        ratio = d["wf_per_s"] / nt["wf_per_s"]
        print(f"  many ({d['n']} concurrent, 200 ms timer + 3 Python activities): default cache {d['wf_per_s']:.0f} "
              f"wf/s ({d['misses']} rebuilds, peak RSS {d['rss_mb']:.0f} MB); every state cached "
              f"{a['wf_per_s']:.0f} wf/s (peak RSS {a['rss_mb']:.0f} MB); no timer (all hits) {nt['wf_per_s']:.0f} "
              f"wf/s")  # fmt: skip
        if args.repeat > 1:
            print(f"    medians of {args.repeat} interleaved rounds: {d['all_wf_per_s']} / {a['all_wf_per_s']} / "
                  f"{nt['all_wf_per_s']}")  # fmt: skip
        print(f"    default / no timer {ratio:.2f} (target >= 0.70: {_verdict(ratio >= 0.7)}); default / all cached "
              f"{d['wf_per_s'] / a['wf_per_s']:.2f}; per CPU-second {d['wf_per_cpu_s']:.0f} / {a['wf_per_cpu_s']:.0f}"
              f" / {nt['wf_per_cpu_s']:.0f}")  # fmt: skip
        if d["wrong"] or a["wrong"] or nt["wrong"]:
            print(f"  WRONG RESULTS: {d['wrong']} / {a['wrong']} / {nt['wrong']}")


if __name__ == "__main__":
    main()
