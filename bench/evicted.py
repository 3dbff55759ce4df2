"""What an evicted live state costs: long histories and a cache that cannot hold every run.

* ``long``: one workflow of ``--calls`` activity calls (3 history events each: 1,000 calls is a
  3,000-event history), run with the default live-state cache and with its state evicted after
  every activation (``cache_size=0``: every activation rebuilds the Lua state by replay).
  Target: total time evicted / cached <= 5.
* ``many``: ``--n`` workflows started concurrently, each sleeping 200 ms then calling three
  Python activities, with the default cache and with a cache that holds every run.
  Target: throughput with the default cache >= 70% of the all-cached one.

Each measurement runs in its own subprocess on a fresh database (synchronous=FULL).

    python bench/evicted.py [--calls 1000] [--n 5000] [--json]
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


def _engine_kwargs(cache: str) -> dict[str, Any]:
    if cache == "default":
        return {}
    if cache == "none":
        return {"cache_size": 0}
    return {"cache_size": ALL_CACHED}


async def _long(db: str, calls: int, cache: str) -> dict[str, Any]:
    from duralua import App
    from duralua.app import Workflows
    from duralua.embedded.engine import EmbeddedEngine

    app = App(APP, log=None)
    engine = EmbeddedEngine(app.catalog, app.runtime, db, events=app.lifecycle, **_engine_kwargs(cache))
    async with Workflows(app, engine) as wf:
        t0 = time.perf_counter()
        c0 = time.process_time()
        result = await wf.result(await wf.start("bench:long", "bench:worker", calls, workflow_id="long"))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        length = engine.history("long").length()
    assert result == calls * (calls + 1) // 2, result
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"calls": calls, "events": length, "wall_s": wall, "cpu_s": cpu,
            "ms_per_activation": wall * 1000 / (calls + 1), "hits": engine.cache_hits,
            "misses": engine.cache_misses, "rss_mb": rss}  # fmt: skip


async def _many(db: str, n: int, cache: str) -> dict[str, Any]:
    from duralua import App
    from duralua.app import Workflows
    from duralua.embedded.engine import EmbeddedEngine

    app = App(APP, log=None)

    @app.function("bench:py_step", worker="bench:worker")
    def py_step(x: int) -> int:
        return x + 1

    engine = EmbeddedEngine(app.catalog, app.runtime, db, events=app.lifecycle, **_engine_kwargs(cache))
    async with Workflows(app, engine) as wf:
        t0 = time.perf_counter()
        c0 = time.process_time()
        pids = await asyncio.gather(*[wf.start("bench:timer_steps", "bench:worker", i) for i in range(n)])
        started = time.perf_counter() - t0
        results = await asyncio.gather(*[wf.result(p) for p in pids])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    wrong = sum(1 for i, r in enumerate(results) if r != i + 3)
    return {"n": n, "wall_s": wall, "start_s": started, "cpu_s": cpu, "wf_per_s": n / wall,
            "wf_per_cpu_s": n / cpu, "wrong": wrong, "hits": engine.cache_hits, "misses": engine.cache_misses,
            "evictions": engine.cache_evictions,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def _child(args: argparse.Namespace) -> None:
    if args.child == "long":
        out = asyncio.run(_long(args.db, args.calls, args.cache))
    else:
        out = asyncio.run(_many(args.db, args.n, args.cache))
    print(json.dumps(out))


def _run(kind: str, cache: str, args: argparse.Namespace) -> dict[str, Any]:
    db = tempfile.mkdtemp(prefix="duralua-evicted-") + "/e.db"
    cmd = [sys.executable, __file__, "--child", kind, "--db", db, "--cache", cache, "--calls", str(args.calls),
           "--n", str(args.n)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{kind}/{cache} failed:\n{res.stderr[-3000:]}")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--only", choices=("long", "many"))
    p.add_argument("--json", action="store_true")
    p.add_argument("--child", choices=("long", "many"))
    p.add_argument("--db")
    p.add_argument("--cache", default="default", choices=("default", "none", "all"))
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    out: dict[str, Any] = {"facts": machine_facts(("lupa",), tempfile.gettempdir())}
    if args.only in (None, "long"):
        out["long_cached"] = _run("long", "default", args)
        out["long_evicted"] = _run("long", "none", args)
    if args.only in (None, "many"):
        out["many_default"] = _run("many", "default", args)
        out["many_all_cached"] = _run("many", "all", args)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    f = out["facts"]
    print(f"evicted live states, embedded engine (synchronous=FULL), {f['cpus_usable']} CPUs {f['cpu_model']}, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    if "long_cached" in out:
        c, e = out["long_cached"], out["long_evicted"]
        ratio = e["wall_s"] / c["wall_s"]
        print(f"  long ({c['events']} events, {c['calls']} calls): cached {c['wall_s']:.2f}s "
              f"({c['ms_per_activation']:.2f} ms/activation), evicted every activation {e['wall_s']:.2f}s "
              f"({e['ms_per_activation']:.2f} ms/activation); ratio {ratio:.1f}x (target <= 5x: "
              f"{'PASS' if ratio <= 5 else 'FAIL'}); CPU ratio {e['cpu_s'] / c['cpu_s']:.1f}x")  # fmt: skip
    if "many_default" in out:
        d, a = out["many_default"], out["many_all_cached"]
        ratio = d["wf_per_s"] / a["wf_per_s"]
        print(f"  many ({d['n']} concurrent, 200 ms timer + 3 Python activities): default cache {d['wf_per_s']:.0f} "
              f"wf/s ({d['misses']} misses, peak RSS {d['rss_mb']:.0f} MB), all cached {a['wf_per_s']:.0f} wf/s "
              f"(peak RSS {a['rss_mb']:.0f} MB); ratio {ratio:.2f} (target >= 0.70: "
              f"{'PASS' if ratio >= 0.7 else 'FAIL'}); per CPU-second {d['wf_per_cpu_s']:.0f} vs "
              f"{a['wf_per_cpu_s']:.0f}")  # fmt: skip
        if d["wrong"] or a["wrong"]:
            print(f"  WRONG RESULTS: {d['wrong']} / {a['wrong']}")


if __name__ == "__main__":
    main()
