"""Processes on a process.host next to plain asyncio, in the same run.

* **Round trip**: one process sends a message to another and waits for its reply, ``--n`` times;
  the baseline is two asyncio tasks doing the same over two ``asyncio.Queue`` objects.
* **Spawn + exit**: a process ``process.exec``s a trivial process (spawn, run ``main``, exit,
  result back) ``--n`` times; the baseline creates and awaits a trivial asyncio task.
Times are CPU time of this process (``time.process_time``: the work is single-threaded and
CPU-bound, so other load on the machine does not count), the best of ``--repeat`` rounds that
interleave duralua and the baseline.

* **Idle processes**: ``--idle`` processes each blocked on ``inbox:receive()``; memory per
  process is the growth of the resident set (RSS) divided by the count, measured in a fresh
  subprocess (the baseline: the same runtime before spawning). The asyncio comparison is the
  same number of tasks blocked on a queue.

    python bench/processes.py [--n 20000] [--idle 10000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
APP = HERE / "apps" / "processes"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from _common import machine_facts  # noqa: E402
from duralua import App  # noqa: E402
from duralua.runtime.node import Mailbox  # noqa: E402


def _rss_kb() -> int:
    with open("/proc/self/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def _asyncio_round_trip(n: int) -> float:
    a: asyncio.Queue[int] = asyncio.Queue()
    b: asyncio.Queue[int] = asyncio.Queue()

    async def ponger() -> None:
        while True:
            v = await a.get()
            if v < 0:
                return
            b.put_nowait(v)

    task = asyncio.create_task(ponger())
    began = time.process_time()
    for i in range(n):
        a.put_nowait(i)
        await b.get()
    took = time.process_time() - began
    a.put_nowait(-1)
    await task
    return took


async def _asyncio_spawn(n: int) -> float:
    async def trivial() -> int:
        return 1

    began = time.process_time()
    for _ in range(n):
        await asyncio.create_task(trivial())
    return time.process_time() - began


async def _duralua(app: App, n: int) -> dict[str, float]:
    rt = app.runtime
    host = rt.hosts["bench:procs"]
    out: dict[str, float] = {}
    done = asyncio.Event()
    box = Mailbox(rt, "bench", lambda d: done.set() if d.topic == "done" else None)
    for label, setup in (("round_trip", "pinger"), ("spawn_exit", "spawner")):
        done.clear()
        began = time.process_time()
        if setup == "pinger":
            ponger, _ = host.spawn("bench:ponger", [], {})
            host.spawn("bench:pinger", [ponger.pid, n, box.pid], {})
        else:
            host.spawn("bench:spawner", [n, box.pid], {})
        await done.wait()
        out[label] = time.process_time() - began
    box.close()
    return out


def idle_memory(count: int) -> dict[str, Any]:
    """RSS growth per idle process (run in a fresh interpreter: see main)."""

    async def run() -> dict[str, Any]:
        app = App(APP, log=None)
        async with app.serve_runtime():
            host = app.runtime.hosts["bench:procs"]
            # warm up: one shared Lua state and the code paths
            for _ in range(10):
                host.spawn("bench:idle", [], {})
            await asyncio.sleep(0.05)
            gc.collect()
            before = _rss_kb()
            began = time.process_time()
            for _ in range(count):
                host.spawn("bench:idle", [], {})
            await asyncio.sleep(0)
            while any(p._view is None for p in host.live.values()):
                await asyncio.sleep(0.01)
            spawn_s = time.process_time() - began
            gc.collect()
            after = _rss_kb()
            live = len(host.live)
            states = len(host._states)
            return {"processes": live, "lua_states": states, "rss_before_mb": round(before / 1024, 1),
                    "rss_after_mb": round(after / 1024, 1), "kb_per_process": round((after - before) / count, 2),
                    "spawn_s": round(spawn_s, 3)}  # fmt: skip

    return asyncio.run(run())


def asyncio_idle_memory(count: int) -> dict[str, Any]:
    async def run() -> dict[str, Any]:
        queues: list[asyncio.Queue[int]] = []

        async def idle(q: asyncio.Queue[int]) -> None:
            await q.get()

        gc.collect()
        before = _rss_kb()
        tasks = []
        for _ in range(count):
            q: asyncio.Queue[int] = asyncio.Queue()
            queues.append(q)
            tasks.append(asyncio.create_task(idle(q)))
        await asyncio.sleep(0.05)
        gc.collect()
        after = _rss_kb()
        for q in queues:
            q.put_nowait(0)
        await asyncio.gather(*tasks)
        return {"kb_per_task": round((after - before) / count, 2)}

    return asyncio.run(run())


def _subprocess(kind: str, count: int) -> dict[str, Any]:
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import processes, json; " \
           f"print(json.dumps(processes.{kind}({count})))"  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--idle", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()

    async def timings() -> dict[str, Any]:
        app = App(APP, log=None)
        best: dict[str, float] = {}

        def keep(name: str, seconds: float) -> None:
            best[name] = min(best.get(name, seconds), seconds)

        async with app.serve_runtime():
            await _duralua(app, opts.n // 20)  # warm up
            await _asyncio_round_trip(opts.n // 20)
            await _asyncio_spawn(opts.n // 20)
            for _ in range(opts.repeat):
                ours = await _duralua(app, opts.n)
                keep("round_trip", ours["round_trip"])
                keep("spawn_exit", ours["spawn_exit"])
                keep("base_round_trip", await _asyncio_round_trip(opts.n))
                keep("base_spawn", await _asyncio_spawn(opts.n))
        per = lambda s: round(s / opts.n * 1e6, 2)  # noqa: E731
        return {
            "round_trip_us": per(best["round_trip"]), "asyncio_round_trip_us": per(best["base_round_trip"]),
            "round_trip_ratio": round(best["round_trip"] / best["base_round_trip"], 2),
            "spawn_exit_us": per(best["spawn_exit"]), "asyncio_spawn_exit_us": per(best["base_spawn"]),
            "spawn_exit_ratio": round(best["spawn_exit"] / best["base_spawn"], 2),
        }  # fmt: skip

    result: dict[str, Any] = {"n": opts.n, **asyncio.run(timings())}
    result["idle"] = _subprocess("idle_memory", opts.idle)
    result["asyncio_idle"] = _subprocess("asyncio_idle_memory", opts.idle)
    result["machine"] = machine_facts()
    if opts.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"round trip (send + reply): {result['round_trip_us']} µs vs asyncio queues "
        f"{result['asyncio_round_trip_us']} µs ({result['round_trip_ratio']}x)"
    )
    print(
        f"spawn + exit:              {result['spawn_exit_us']} µs vs asyncio task "
        f"{result['asyncio_spawn_exit_us']} µs ({result['spawn_exit_ratio']}x)"
    )
    idle = result["idle"]
    print(
        f"{idle['processes']} idle processes: {idle['kb_per_process']} KB each beyond the baseline "
        f"({idle['lua_states']} shared Lua states, spawned in {idle['spawn_s']} s); asyncio tasks "
        f"blocked on a queue: {result['asyncio_idle']['kb_per_task']} KB each"
    )


if __name__ == "__main__":
    main()
