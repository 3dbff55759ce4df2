"""Healthy workflows' latency while pathological pattern matches run on the same engine.

Healthy workflows are due at a fixed rate (open loop, latency from the due time) for a while, once alone and once
while backtracking matches (``string.rep("a", 800):find(".-.-.-b")``, over 90 s in one C call
before string.find was budget-aware) run on the same engine: one every ``--every`` seconds,
each ending held with the budget error. Prints p50/p99 of both phases and their ratio.

    python bench/pattern_isolation.py [--seconds 20] [--rate 20] [--length 800] [--every 2] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _common import latency_summary  # noqa: E402

APP = HERE / "apps" / "patterns"


async def _phase(db: str, seconds: float, rate: float, length: int | None, every: float) -> dict[str, Any]:
    from duralua import App

    app = App(APP, log=None)
    latencies: list[float] = []
    held: list[float] = []
    async with app.engine(db) as wf:
        stop = time.perf_counter() + seconds

        async def one(i: int, due: float) -> None:
            pid = await wf.start("bench:healthy", "bench:worker", i)
            assert await wf.result(pid) == f"{i}/paid"
            latencies.append(time.perf_counter() - due)

        async def pathological() -> None:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                pid = await wf.start("bench:backtrack", "bench:worker", length)
                while (state := await wf.engine.describe(pid)).status == "running":
                    await asyncio.sleep(0.01)
                assert state.status == "held" and "instruction budget" in state.reason, state
                held.append(time.perf_counter() - t0)
                await asyncio.sleep(max(0.0, t0 + every - time.perf_counter()))

        background = asyncio.ensure_future(pathological()) if length else None
        # Open loop: workflow i is due at begin + i / rate and its latency counts from then,
        # so the time the event loop was blocked is not hidden by starting late.
        tasks, i, begin = [], 0, time.perf_counter()
        while (due := begin + i / rate) < stop:
            if due > time.perf_counter():
                await asyncio.sleep(due - time.perf_counter())
            tasks.append(asyncio.ensure_future(one(i, due)))
            i += 1
        await asyncio.gather(*tasks)
        if background is not None:
            await background
    return {**latency_summary(latencies), "healthy": len(latencies), "pathological_runs": len(held),
            "pathological_mean_s": sum(held) / len(held) if held else 0.0}  # fmt: skip


def c_reference(length: int) -> float:
    """Seconds the same match takes in C (lupa, no sandbox): the freeze it used to cause."""
    import lupa.lua54 as lupa

    source = "function(n) local c = os.clock() string.rep('a', n):find('.-.-.-b') return os.clock() - c end"
    run = lupa.LuaRuntime().eval(source)
    return float(run(length))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=20.0, help="healthy workflows started per second")
    parser.add_argument("--length", type=int, default=800, help="subject length of the backtracking match")
    parser.add_argument("--every", type=float, default=2.0, help="start a backtracking run every this many seconds")
    parser.add_argument("--c-reference", type=int, default=200, help="also time the match in C at this length (0: no)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="duralua-bench-") as tmp:
        alone = asyncio.run(_phase(str(Path(tmp) / "alone.db"), args.seconds, args.rate, None, args.every))
        loaded = asyncio.run(_phase(str(Path(tmp) / "loaded.db"), args.seconds, args.rate, args.length, args.every))
    out: dict[str, Any] = {"alone": alone, "with_pathological": loaded}
    out["p50_ratio"] = loaded["p50_ms"] / alone["p50_ms"]
    out["p99_ratio"] = loaded["p99_ms"] / alone["p99_ms"]
    if args.c_reference:
        out["c_reference"] = {"length": args.c_reference, "seconds": c_reference(args.c_reference)}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"healthy workflows at {args.rate:g}/s for {args.seconds:g} s; a backtracking match on {args.length} chars "
          f"every {args.every:g} s")  # fmt: skip
    print(f"{'phase':<28}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, r in (("alone", alone), ("with pathological matches", loaded)):
        print(f"{name:<28}{r['healthy']:>6}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}{r['max_ms']:>10.1f}")
    print(f"ratio p50 {out['p50_ratio']:.2f}x, p99 {out['p99_ratio']:.2f}x")
    print(f"pathological runs held with the budget error: {loaded['pathological_runs']}, "
          f"{loaded['pathological_mean_s'] * 1000:.0f} ms each from start to held")  # fmt: skip
    if args.c_reference:
        ref = out["c_reference"]
        print(f"the same match in C on {ref['length']} chars: {ref['seconds']:.2f} s in one call")


if __name__ == "__main__":
    main()
