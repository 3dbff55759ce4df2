"""duralua's embedded engine vs DBOS Transact 3.4 on SQLite: one workflow, three trivial steps.

    python bench/embedded_vs_dbos.py                 # both systems, table + ratios vs targets
    python bench/embedded_vs_dbos.py --only dbos     # just DBOS (no duralua needed)
    python bench/embedded_vs_dbos.py --json          # figures as JSON on stdout (table on stderr)

The same shape runs on both:

* duralua: ``bench/apps/three_steps`` -- a ``workflow.lua`` calling three ``function.lua``
  activities in sequence -- on the embedded engine, SQLite in WAL mode with
  ``synchronous=FULL`` (durable across power loss).
* DBOS: a ``@DBOS.workflow()`` calling three ``@DBOS.step()`` functions, with a SQLite system
  database. DBOS 3.4 does not choose a journal mode for SQLite, so the file is switched to WAL
  (a persistent setting) before launch; the pragmas DBOS's own connections see are printed.

Measured, each system on a fresh temporary directory:

* throughput -- N workflows started concurrently, wall time until every result is in;
* latency -- one workflow at a time, M times, start -> result (p50 / p99).

By default each system runs in its own child process (``--in-process`` to share one), so
neither inherits the other's threads, caches or garbage. Benchmarks print; they never fail on
a time. The targets (issue 13: duralua throughput >= 10x DBOS, duralua p50 <= 1/5 of DBOS) are reported
as PASS/FAIL.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _common import fmt_ratio, latency_summary, machine_facts, now, table

HERE = Path(__file__).resolve().parent
APP_DIR = HERE / "apps" / "three_steps"
WORKFLOW = "bench:three_steps"
WORKER = "bench:worker"
SYSTEMS = ("duralua", "dbos")
TARGET_THROUGHPUT = 10.0  # duralua workflows/s >= 10x DBOS (issue 13; was 5x)
TARGET_P50 = 1.0 / 5.0  # duralua p50 <= 1/5 of DBOS (issue 13; was 1/3)


def expected(i: int) -> int:
    """What both workflows return for input {"i": i}: (i+1) + (i+2) + (i+3)."""
    return 3 * i + 6


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Figures:
    """One system (or one DBOS API variant) measured."""

    system: str
    label: str
    n: int = 0
    m: int = 0
    throughput_wall_s: float = math.nan
    start_phase_s: float = math.nan  # of which: issuing the N starts
    workflows_per_s: float = math.nan
    latency: dict[str, float] = field(default_factory=dict)
    wrong_results: int = 0
    pragmas: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def p50_ms(self) -> float:
        return self.latency.get("p50_ms", math.nan)


def _count_wrong(results: list[Any], offset: int = 0) -> int:
    return sum(1 for i, r in enumerate(results) if r != expected(offset + i))


def _sqlite_pragmas(execute: Callable[[str], Any]) -> dict[str, Any]:
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    sync = execute("PRAGMA synchronous")
    return {
        "journal_mode": str(execute("PRAGMA journal_mode")).lower(),
        "synchronous": names.get(int(sync), str(sync)) if sync is not None else None,
    }


# -- DBOS --------------------------------------------------------------------------------------


@functools.cache
def _dbos_functions() -> dict[str, Callable[..., Any]]:
    """Register the DBOS workflows (sync and async flavours) once, before DBOS is created."""
    from dbos import DBOS

    @DBOS.step()
    def step1(x: int) -> int:
        return x + 1

    @DBOS.step()
    def step2(x: int) -> int:
        return x + 1

    @DBOS.step()
    def step3(x: int) -> int:
        return x + 1

    @DBOS.workflow()
    def three_steps(inp: dict[str, int]) -> int:
        a = step1(inp["i"])
        b = step2(a)
        c = step3(b)
        return int(a + b + c)

    @DBOS.step()
    async def astep1(x: int) -> int:
        return x + 1

    @DBOS.step()
    async def astep2(x: int) -> int:
        return x + 1

    @DBOS.step()
    async def astep3(x: int) -> int:
        return x + 1

    @DBOS.workflow()
    async def three_steps_async(inp: dict[str, int]) -> int:
        a = await astep1(inp["i"])
        b = await astep2(a)
        c = await astep3(b)
        return int(a + b + c)

    return {"sync": three_steps, "async": three_steps_async}


@contextlib.contextmanager
def _dbos_launched(db_path: Path) -> Iterator[Any]:
    from dbos import DBOS, DBOSConfig

    # WAL is a property of the file: set it before DBOS opens it (DBOS 3.4 leaves the default).
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise RuntimeError(f"could not switch {db_path} to WAL (journal_mode={mode})")
    _dbos_functions()
    config: DBOSConfig = {
        "name": "bench-three-steps",
        "system_database_url": f"sqlite:///{db_path}",
        "log_level": "WARNING",
    }
    instance = DBOS(config=config)
    DBOS.launch()
    try:
        yield instance
    finally:
        DBOS.destroy(destroy_registry=False)


def _dbos_pragmas(instance: Any) -> dict[str, Any]:
    """The pragmas as seen by a connection from DBOS's own system-database engine."""
    engine = instance._sys_db.engine  # private, but it is the only way to see DBOS's connections
    with engine.connect() as conn:
        pragmas = _sqlite_pragmas(lambda q: conn.exec_driver_sql(q).scalar())
        pragmas["busy_timeout_ms"] = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    pragmas["pool_size"] = engine.pool.size()
    return pragmas


def _dbos_sync(args: argparse.Namespace, fig: Figures) -> None:
    from dbos import DBOS

    wf = _dbos_functions()["sync"]
    for i in range(args.warmup):
        DBOS.start_workflow(wf, {"i": i}).get_result()

    n = args.n
    starters = args.dbos_starters
    t0 = now()
    if starters <= 1:
        handles = [DBOS.start_workflow(wf, {"i": i}) for i in range(n)]
    else:
        with ThreadPoolExecutor(max_workers=starters, thread_name_prefix="bench-start") as pool:
            handles = list(pool.map(lambda i: DBOS.start_workflow(wf, {"i": i}), range(n)))
    t_started = now()
    results = [h.get_result() for h in handles]
    t1 = now()
    fig.n, fig.throughput_wall_s, fig.start_phase_s = n, t1 - t0, t_started - t0
    fig.workflows_per_s = n / (t1 - t0)
    fig.wrong_results += _count_wrong(results)
    fig.notes.append(f"sync @DBOS.workflow, DBOS.start_workflow from {max(starters, 1)} thread(s)")

    lat: list[float] = []
    for j in range(args.m):
        i = n + j
        t = now()
        r = DBOS.start_workflow(wf, {"i": i}).get_result()
        lat.append(now() - t)
        fig.wrong_results += r != expected(i)
    fig.m, fig.latency = args.m, latency_summary(lat)


async def _dbos_async(args: argparse.Namespace, fig: Figures) -> None:
    from dbos import DBOS

    wf = _dbos_functions()["async"]
    for i in range(args.warmup):
        await (await DBOS.start_workflow_async(wf, {"i": i})).get_result()

    n = args.n
    t0 = now()
    handles = await asyncio.gather(*(DBOS.start_workflow_async(wf, {"i": i}) for i in range(n)))
    t_started = now()
    results = await asyncio.gather(*(h.get_result() for h in handles))
    t1 = now()
    fig.n, fig.throughput_wall_s, fig.start_phase_s = n, t1 - t0, t_started - t0
    fig.workflows_per_s = n / (t1 - t0)
    fig.wrong_results += _count_wrong(list(results))
    fig.notes.append("async @DBOS.workflow, DBOS.start_workflow_async gathered on one event loop")

    lat: list[float] = []
    for j in range(args.m):
        i = n + j
        t = now()
        r = await (await DBOS.start_workflow_async(wf, {"i": i})).get_result()
        lat.append(now() - t)
        fig.wrong_results += r != expected(i)
    fig.m, fig.latency = args.m, latency_summary(lat)


def run_dbos(args: argparse.Namespace, workdir: Path) -> list[Figures]:
    """One fresh database per API flavour (sync and/or async), DBOS relaunched for each."""
    import dbos  # noqa: F401 - fail early with a clear message if the bench extra is missing

    apis = ["sync", "async"] if args.dbos_api == "both" else [args.dbos_api]
    out: list[Figures] = []
    for api in apis:
        fig = Figures("dbos", f"DBOS {api}")
        db_path = workdir / f"dbos_{api}.sqlite"
        log(f"dbos ({api}): {db_path}")
        try:
            with _dbos_launched(db_path) as instance:
                fig.pragmas = _dbos_pragmas(instance)
                log(f"dbos ({api}): pragmas {fig.pragmas}")
                if api == "sync":
                    _dbos_sync(args, fig)
                else:
                    asyncio.run(_dbos_async(args, fig))
        except Exception as exc:  # a benchmark reports, it does not crash
            traceback.print_exc()
            fig.error = f"{type(exc).__name__}: {exc}"
        log(f"dbos ({api}): {_one_line(fig)}")
        out.append(fig)
    return out


# -- duralua -----------------------------------------------------------------------------------


async def _duralua_async(args: argparse.Namespace, fig: Figures, db_path: Path) -> None:
    from duralua import App

    app = App(APP_DIR, log=None)
    timeout = args.phase_timeout
    async with app.engine(db=db_path, synchronous=args.synchronous) as wf:
        store = getattr(wf.engine, "store", None)
        if store is not None:
            fig.pragmas = _sqlite_pragmas(lambda q: store.db.execute(q).fetchone()[0])
            log(f"duralua: pragmas {fig.pragmas}")

        async def warmup() -> None:
            for i in range(args.warmup):
                r = await wf.result(await wf.start(WORKFLOW, WORKER, {"i": i}))
                fig.wrong_results += r != expected(i)

        await asyncio.wait_for(warmup(), timeout)

        n = args.n
        t0 = now()
        pids = await asyncio.wait_for(
            asyncio.gather(*(wf.start(WORKFLOW, WORKER, {"i": i}) for i in range(n))), timeout
        )
        t_started = now()
        results = await asyncio.wait_for(asyncio.gather(*(wf.result(p) for p in pids)), timeout)
        t1 = now()
        fig.n, fig.throughput_wall_s, fig.start_phase_s = n, t1 - t0, t_started - t0
        fig.workflows_per_s = n / (t1 - t0)
        fig.wrong_results += _count_wrong(list(results))
        fig.notes.append(f"embedded engine, synchronous={args.synchronous}, starts gathered on one event loop")

        async def latency() -> list[float]:
            lat: list[float] = []
            for j in range(args.m):
                i = n + j
                t = now()
                r = await wf.result(await wf.start(WORKFLOW, WORKER, {"i": i}))
                lat.append(now() - t)
                fig.wrong_results += r != expected(i)
            return lat

        fig.m, fig.latency = args.m, latency_summary(await asyncio.wait_for(latency(), timeout))


def run_duralua(args: argparse.Namespace, workdir: Path) -> list[Figures]:
    fig = Figures("duralua", "duralua embedded")
    db_path = workdir / "duralua.db"
    log(f"duralua: {db_path}")
    try:
        asyncio.run(_duralua_async(args, fig, db_path))
    except Exception as exc:  # the engine may be unfinished: report exactly what broke
        traceback.print_exc()
        fig.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    log(f"duralua: {_one_line(fig)}")
    return [fig]


RUNNERS: dict[str, Callable[[argparse.Namespace, Path], list[Figures]]] = {
    "duralua": run_duralua,
    "dbos": run_dbos,
}


# -- orchestration -----------------------------------------------------------------------------


def _one_line(fig: Figures) -> str:
    if fig.error:
        return f"ERROR {fig.error}"
    return (
        f"{fig.workflows_per_s:,.0f} wf/s (N={fig.n} in {fig.throughput_wall_s:.2f}s), "
        f"p50 {fig.p50_ms:.2f} ms, p99 {fig.latency.get('p99_ms', math.nan):.2f} ms (M={fig.m})"
        + (f", {fig.wrong_results} WRONG results" if fig.wrong_results else "")
    )


def run_system(system: str, args: argparse.Namespace, base: Path) -> list[Figures]:
    """Run one system in this process on a fresh temporary directory."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{system}-", dir=base))
    try:
        return RUNNERS[system](args, workdir)
    finally:
        if args.keep:
            log(f"{system}: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def run_isolated(system: str, args: argparse.Namespace, base: Path) -> list[Figures]:
    """Run one system in a child process (same arguments, ``--only system``)."""
    fd, result_file = tempfile.mkstemp(prefix=f"bench-{system}-", suffix=".json", dir=base)
    os.close(fd)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--only", system, "--result-file", result_file,
           "--n", str(args.n), "--m", str(args.m), "--warmup", str(args.warmup),
           "--dbos-api", args.dbos_api, "--dbos-starters", str(args.dbos_starters),
           "--synchronous", args.synchronous, "--phase-timeout", str(args.phase_timeout),
           "--tmpdir", str(base)] + (["--keep"] if args.keep else [])  # fmt: skip
    try:
        proc = subprocess.run(cmd, stdout=sys.stderr, timeout=args.system_timeout, check=False)
        data = json.loads(Path(result_file).read_text() or "[]")
        if data:
            return [Figures(**d) for d in data]
        return [Figures(system, system, error=f"child process exited with status {proc.returncode}")]
    except subprocess.TimeoutExpired:
        return [Figures(system, system, error=f"timed out after {args.system_timeout:.0f}s")]
    finally:
        Path(result_file).unlink(missing_ok=True)


def _best(figs: list[Figures], key: Callable[[Figures], float], lowest: bool) -> Figures | None:
    ok = [f for f in figs if f.error is None and not math.isnan(key(f))]
    if not ok:
        return None
    return min(ok, key=key) if lowest else max(ok, key=key)


def compare(figs: list[Figures]) -> dict[str, Any]:
    """Ratios against the best DBOS variant (the most favourable baseline for DBOS)."""
    ours = [f for f in figs if f.system == "duralua"]
    theirs = [f for f in figs if f.system == "dbos"]
    d_tp = _best(ours, lambda f: f.workflows_per_s, lowest=False)
    d_lat = _best(ours, lambda f: f.p50_ms, lowest=True)
    b_tp = _best(theirs, lambda f: f.workflows_per_s, lowest=False)
    b_lat = _best(theirs, lambda f: f.p50_ms, lowest=True)
    tp_ratio = d_tp.workflows_per_s / b_tp.workflows_per_s if d_tp and b_tp else None
    p50_ratio = d_lat.p50_ms / b_lat.p50_ms if d_lat and b_lat else None

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("PASS" if ok else "FAIL")

    return {
        "dbos_baseline": {"throughput": b_tp.label if b_tp else None, "p50": b_lat.label if b_lat else None},
        "throughput_ratio": tp_ratio,
        "p50_ratio": p50_ratio,
        "targets": {
            "throughput_ratio_min": TARGET_THROUGHPUT,
            "p50_ratio_max": TARGET_P50,
            "throughput": verdict(None if tp_ratio is None else tp_ratio >= TARGET_THROUGHPUT),
            "p50": verdict(None if p50_ratio is None else p50_ratio <= TARGET_P50),
        },
    }


def report(figs: list[Figures], cmp: dict[str, Any], facts: dict[str, Any], args: argparse.Namespace) -> str:
    pk = facts["packages"]
    lines = [
        "embedded_vs_dbos: one workflow, three trivial steps",
        f"machine: {facts['cpu_count']} CPUs ({facts['cpus_usable']} usable, {facts['cpu_model']}), "
        f"{facts['platform']}",
        f"python {facts['python']} ({facts['python_impl']}), SQLite {facts['sqlite']}, "
        f"tmp {facts['tmpdir']} ({facts['tmpdir_fs']})",
        "packages: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in pk.items()),
        f"N={args.n} concurrent workflows (throughput), M={args.m} one at a time (latency), warm-up {args.warmup}",
        "",
    ]
    rows: list[list[object]] = []
    for f in figs:
        if f.error:
            rows.append([f.label, None, None, None, None, None, None, None, "ERROR (below)"])
            continue
        prag = f"{f.pragmas.get('journal_mode', '?')}/{f.pragmas.get('synchronous', '?')}"
        rows.append([f.label, f.workflows_per_s, f.throughput_wall_s, f.start_phase_s, f.p50_ms,
                     f.latency.get("p99_ms"), f.latency.get("mean_ms"), prag,
                     f"{f.wrong_results} wrong" if f.wrong_results else "ok"])  # fmt: skip
    headers = [
        "system",
        "wf/s",
        "wall s",
        "start s",
        "p50 ms",
        "p99 ms",
        "mean ms",
        "journal/sync",
        "results",
    ]
    lines.append(table(headers, rows))
    lines.append("")
    t = cmp["targets"]
    if any(f.system == "duralua" for f in figs) and any(f.system == "dbos" for f in figs):
        base = cmp["dbos_baseline"]
        lines.append(table(
            ["ratio (duralua / DBOS)", "value", "target", "verdict"],
            [
                [f"throughput (vs {base['throughput'] or '-'})", fmt_ratio(cmp["throughput_ratio"]),
                 f">= {TARGET_THROUGHPUT:g}x", t["throughput"]],
                [f"p50 latency (vs {base['p50'] or '-'})", fmt_ratio(cmp["p50_ratio"]),
                 f"<= {TARGET_P50:.3f}x (1/{1 / TARGET_P50:g})", t["p50"]],
            ],
        ))  # fmt: skip
    for f in figs:
        for note in f.notes:
            lines.append(f"{f.label}: {note}")
        if f.error:
            lines.append(f"{f.label}: ERROR {f.error}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--n", type=int, default=2000, help="workflows started concurrently (throughput)")
    p.add_argument("--m", type=int, default=200, help="workflows run one at a time (latency)")
    p.add_argument("--warmup", type=int, default=20, help="untimed workflows before measuring")
    p.add_argument("--only", choices=SYSTEMS, help="run one system only")
    p.add_argument("--json", action="store_true", help="write the figures as JSON to stdout (table to stderr)")
    p.add_argument(
        "--dbos-api",
        choices=("sync", "async", "both"),
        default="both",
        help="DBOS workflow flavour; with both, ratios use the better one",
    )
    p.add_argument(
        "--dbos-starters",
        type=int,
        default=8,
        help="threads calling DBOS.start_workflow (sync flavour; 1 = the main thread)",
    )
    p.add_argument("--synchronous", default="FULL", choices=("FULL", "NORMAL"), help="duralua SQLite synchronous")
    p.add_argument("--tmpdir", help="where the fresh temporary directories go (default: the system temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the databases")
    p.add_argument("--in-process", action="store_true", help="run both systems in this process")
    p.add_argument("--phase-timeout", type=float, default=120.0, help="duralua: give up on a phase after this")
    p.add_argument("--system-timeout", type=float, default=600.0, help="kill an isolated system after this")
    p.add_argument("--result-file", help=argparse.SUPPRESS)  # child mode: write the figures here
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = Path(args.tmpdir or tempfile.gettempdir()).resolve()
    base.mkdir(parents=True, exist_ok=True)
    systems = [args.only] if args.only else list(SYSTEMS)

    if args.result_file:  # child of run_isolated: measure, hand the figures back, print nothing else
        child = run_system(systems[0], args, base)
        Path(args.result_file).write_text(json.dumps([asdict(f) for f in child]))
        return 0

    figs: list[Figures] = []
    for system in systems:
        if len(systems) > 1 and not args.in_process:
            figs.extend(run_isolated(system, args, base))
        else:
            figs.extend(run_system(system, args, base))

    facts = machine_facts(["duralua", "dbos", "sqlalchemy", "lupa"], tmpdir=base)
    cmp = compare(figs)
    text = report(figs, cmp, facts, args)
    params = {k: getattr(args, k) for k in ("n", "m", "warmup", "dbos_api", "dbos_starters", "synchronous")}
    params["isolated"] = len(systems) > 1 and not args.in_process
    if args.json:
        print(text, file=sys.stderr)
        doc = {"benchmark": "embedded_vs_dbos", "params": params, "machine": facts,
               "results": [asdict(f) for f in figs], **cmp}  # fmt: skip
        print(json.dumps(doc, indent=2))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
