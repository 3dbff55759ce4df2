"""HTTP requests that each durably start a three-step workflow and answer with its id:
duralua (an http.endpoint whose Lua handler calls process.spawn) vs Starlette + DBOS 3.4 on
SQLite (a route calling DBOS.start_workflow), both served by Uvicorn (h11) on 127.0.0.1.

    python bench/http_start.py              # both systems, table + ratios vs the target
    python bench/http_start.py --json       # figures as JSON on stdout (table on stderr)

The same load generator drives both, in the same run: a separate process holding C keep-alive
HTTP/1.1 connections, each sending ``POST /start {"i": n}`` back to back until N requests are
answered (throughput, latency under load), then M requests one at a time (unloaded latency).
Each server runs in its own child process on a fresh temporary directory; after the load it
waits until every started workflow has completed and checks the results (3n + 6), so a system
cannot look fast by starting work it never finishes. duralua uses synchronous=FULL (durable
across power loss); DBOS uses SQLite in WAL mode with its own settings (printed). DBOS is run
with an async route (start_workflow_async) and a sync route (start_workflow in Starlette's
thread pool); the ratio uses the better one. Target: duralua requests/s >= 3x DBOS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _common import fmt_ratio, latency_summary, machine_facts, now, table

HERE = Path(__file__).resolve().parent
APP_DIR = HERE / "apps" / "http_start"
SYSTEMS = ("duralua", "dbos-async", "dbos-sync")
TARGET = 3.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Figures:
    system: str
    n: int = 0
    c: int = 0
    m: int = 0
    requests_per_s: float = math.nan
    wall_s: float = math.nan
    loaded: dict[str, float] = field(default_factory=dict)  # latency under load
    unloaded: dict[str, float] = field(default_factory=dict)  # one request at a time
    bad_responses: int = 0
    completed: int = 0
    wrong_results: int = 0
    drain_s: float = math.nan  # after the load: until every workflow had completed
    cpu_ms_per_request: float = math.nan  # server CPU (all threads) per request, start to all completed
    pragmas: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def expected(i: int) -> int:
    return 3 * i + 6


# -- servers (child processes) ------------------------------------------------------------------


def _listen() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


async def _control(check: Any) -> None:
    """After READY: one stdin line "verify <pids file>" -> one JSON line with the verdict.

    The file maps each workflow id the load generator got back to its input ``i``; ``check``
    waits for each of those workflows and returns {id: result}."""
    loop = asyncio.get_running_loop()
    cpu0 = time.process_time()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    started: dict[str, int] = json.loads(Path(line.split(maxsplit=1)[1].strip()).read_text())
    t0 = now()
    try:
        results = await asyncio.wait_for(check(list(started)), 300)
    except TimeoutError:
        results = {}
    drain = now() - t0
    cpu = time.process_time() - cpu0  # every thread of this server, from READY until all completed
    wrong = sum(1 for wid, i in started.items() if wid in results and results[wid] != expected(i))
    print(json.dumps({"completed": len(results), "wrong": wrong, "drain_s": drain, "cpu_s": cpu}), flush=True)


async def _serve_duralua(workdir: Path, synchronous: str) -> None:
    from duralua import App

    sock = _listen()
    port = sock.getsockname()[1]
    sock.close()  # the service binds its own socket from the address
    os.environ["BENCH_HTTP_ADDR"] = f"127.0.0.1:{port}"
    app = App(APP_DIR, log=None)
    async with app.engine(db=workdir / "duralua.db", synchronous=synchronous) as wf, app.http_services() as web:
        store = wf.engine.store
        pragmas = {"journal_mode": store.db.execute("PRAGMA journal_mode").fetchone()[0],
                   "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
                       store.db.execute("PRAGMA synchronous").fetchone()[0]]}  # fmt: skip
        print(f"READY {web.addresses['bench:http']} {json.dumps(pragmas)}", flush=True)

        async def check(pids: list[str]) -> dict[str, Any]:
            outcomes = await asyncio.gather(*(wf.outcome(pid) for pid in pids))
            return {pid: value for pid, (value, failure) in zip(pids, outcomes, strict=True) if failure is None}

        await _control(check)


def _serve_dbos(workdir: Path, flavour: str) -> None:
    sys.path.insert(0, str(HERE))
    import anyio.to_thread
    import uvicorn
    from dbos import DBOS
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from embedded_vs_dbos import _dbos_functions, _dbos_launched, _dbos_pragmas

    wfs = _dbos_functions()

    async def start_async(request: Request) -> JSONResponse:
        body = await request.json()
        handle = await DBOS.start_workflow_async(wfs["async"], {"i": body["i"]})
        return JSONResponse({"pid": handle.workflow_id}, status_code=202)

    async def start_sync(request: Request) -> JSONResponse:
        # The sync API in a worker thread (what a plain `def` route does in Starlette).
        body = await request.json()
        handle = await anyio.to_thread.run_sync(DBOS.start_workflow, wfs["sync"], {"i": body["i"]})
        return JSONResponse({"pid": handle.workflow_id}, status_code=202)

    route = Route("/start", start_async if flavour == "async" else start_sync, methods=["POST"])
    web = Starlette(routes=[route])

    with _dbos_launched(workdir / f"dbos_{flavour}.sqlite") as instance:
        pragmas = _dbos_pragmas(instance)

        async def main() -> None:
            sock = _listen()
            config = uvicorn.Config(web, lifespan="off", log_config=None, access_log=False, http="h11",
                                    timeout_keep_alive=60)  # fmt: skip
            config.load()
            server = uvicorn.Server(config)
            server.lifespan = config.lifespan_class(config)
            await server.startup(sockets=[sock])
            print(f"READY http://127.0.0.1:{sock.getsockname()[1]} {json.dumps(pragmas)}", flush=True)

            async def check(ids: list[str]) -> dict[str, Any]:
                wanted = set(ids)
                while True:
                    done = await asyncio.to_thread(DBOS.list_workflows, status="SUCCESS", load_input=False)
                    if len(wanted & {w.workflow_id for w in done}) == len(wanted):
                        return {w.workflow_id: w.output for w in done if w.workflow_id in wanted}
                    await asyncio.sleep(0.1)

            await _control(check)
            server.should_exit = True
            await server.shutdown(sockets=[sock])

        asyncio.run(main())


# -- the load generator (child process) ---------------------------------------------------------


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, i: int) -> tuple[int, bytes]:
    body = json.dumps({"i": i}).encode()
    writer.write(b"POST /start HTTP/1.1\r\nHost: " + host.encode() + b"\r\nContent-Type: application/json\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _load(url: str, n: int, c: int, m: int, warmup: int, pids_file: Path) -> dict[str, Any]:
    host = url.removeprefix("http://")
    hostname, port = host.split(":")
    bad = 0
    started: dict[str, int] = {}

    def note(i: int, status: int, body: bytes) -> bool:
        if status != 202:
            return False
        try:
            started[json.loads(body)["pid"]] = i
        except (ValueError, KeyError):
            return False
        return True

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(hostname, int(port))

    r0, w0 = await connect()
    for i in range(warmup):
        bad += not note(i, *await _post(r0, w0, host, i))
    counter = iter(range(warmup, warmup + n))
    lat: list[float] = []

    async def worker() -> None:
        nonlocal bad
        reader, writer = await connect()
        try:
            for i in counter:
                t = now()
                status, body = await _post(reader, writer, host, i)
                lat.append(now() - t)
                bad += not note(i, status, body)
        finally:
            writer.close()

    t0 = now()
    await asyncio.gather(*(worker() for _ in range(c)))
    wall = now() - t0
    single: list[float] = []
    for j in range(m):
        i = warmup + n + j
        t = now()
        status, body = await _post(r0, w0, host, i)
        single.append(now() - t)
        bad += not note(i, status, body)
    w0.close()
    pids_file.write_text(json.dumps(started))
    return {"n": n, "c": c, "m": m, "wall_s": wall, "requests_per_s": n / wall, "loaded": latency_summary(lat),
            "unloaded": latency_summary(single), "bad": bad, "total": len(started)}  # fmt: skip


# -- orchestration ------------------------------------------------------------------------------


def measure(system: str, args: argparse.Namespace, base: Path) -> Figures:
    fig = Figures(system)
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-http-{system}-", dir=base))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", system, "--workdir", str(workdir),
           "--synchronous", args.synchronous]  # fmt: skip
    server = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdin is not None
        ready = server.stdout.readline().split(maxsplit=2)
        if not ready or ready[0] != "READY":
            raise RuntimeError(f"{system} server did not start (status {server.poll()})")
        fig.pragmas = json.loads(ready[2])
        log(f"{system}: serving on {ready[1]}, SQLite {fig.pragmas}")
        pids = workdir / "pids.json"
        load = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--load", ready[1], "--n", str(args.n),
                               "--c", str(args.c), "--m", str(args.m), "--warmup", str(args.warmup),
                               "--workdir", str(pids)],
                              capture_output=True, text=True, timeout=args.timeout, check=True)  # fmt: skip
        got = json.loads(load.stdout)
        fig.n, fig.c, fig.m = got["n"], got["c"], got["m"]
        fig.requests_per_s, fig.wall_s = got["requests_per_s"], got["wall_s"]
        fig.loaded, fig.unloaded, fig.bad_responses = got["loaded"], got["unloaded"], got["bad"]
        server.stdin.write(f"verify {pids}\n")
        server.stdin.flush()
        verdict = json.loads(server.stdout.readline())
        fig.completed, fig.wrong_results, fig.drain_s = verdict["completed"], verdict["wrong"], verdict["drain_s"]
        fig.cpu_ms_per_request = verdict["cpu_s"] * 1000 / max(1, got["total"])
        if fig.completed < got["total"]:
            fig.error = f"only {fig.completed} of {got['total']} workflows completed"
    except Exception as exc:  # a benchmark reports, it does not crash
        traceback.print_exc()
        fig.error = f"{type(exc).__name__}: {exc}"
    finally:
        if server.poll() is None:
            server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    log(f"{system}: {fig.requests_per_s:,.0f} req/s, p50 {fig.loaded.get('p50_ms', math.nan):.1f} ms, "
        f"p99 {fig.loaded.get('p99_ms', math.nan):.1f} ms" + (f"; ERROR {fig.error}" if fig.error else ""))  # fmt: skip
    return fig


def report(figs: list[Figures], facts: dict[str, Any], args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    pk = facts["packages"]
    lines = [
        "http_start: HTTP POST -> durable start of a three-step workflow -> 202 with its id",
        f"machine: {facts['cpu_count']} CPUs ({facts['cpus_usable']} usable, {facts['cpu_model']}), "
        f"{facts['platform']}; python {facts['python']}, SQLite {facts['sqlite']}, "
        f"tmp {facts['tmpdir']} ({facts['tmpdir_fs']})",
        "packages: " + ", ".join(f"{k} {v or 'not installed'}" for k, v in pk.items()),
        f"load: N={args.n} requests over C={args.c} keep-alive connections, then M={args.m} one at a time "
        f"(warm-up {args.warmup}); one load-generator process for both systems",
        "",
    ]

    def sqlite(f: Figures) -> str:
        return f"{f.pragmas.get('journal_mode', '?')}/{f.pragmas.get('synchronous', '?')}"

    def outcome(f: Figures) -> str:
        if f.error:
            return f"ERROR {f.error}"
        bad = [f"{f.bad_responses} bad responses"] if f.bad_responses else []
        bad += [f"{f.wrong_results} WRONG results"] if f.wrong_results else []
        return ", ".join(bad) or f"ok ({f.completed} completed)"

    rows = [[f.system, f.requests_per_s, f.loaded.get("p50_ms"), f.loaded.get("p99_ms"), f.unloaded.get("p50_ms"),
             f.unloaded.get("p99_ms"), f.drain_s, f.cpu_ms_per_request, sqlite(f), outcome(f)]
            for f in figs]  # fmt: skip
    lines.append(table(["system", "req/s", "p50 ms", "p99 ms", "1-at-a-time p50", "p99", "drain s",
                        "CPU ms/req", "journal/sync", "results"], rows))  # fmt: skip
    ours = next((f for f in figs if f.system == "duralua" and f.error is None), None)
    theirs = [f for f in figs if f.system.startswith("dbos") and f.error is None]
    best = max(theirs, key=lambda f: f.requests_per_s) if theirs else None
    cmp: dict[str, Any] = {"baseline": best.system if best else None, "throughput_ratio": None,
                           "p50_ratio": None, "p99_ratio": None}  # fmt: skip
    if ours and best:
        cmp["throughput_ratio"] = ours.requests_per_s / best.requests_per_s
        cmp["p50_ratio"] = ours.loaded["p50_ms"] / best.loaded["p50_ms"]
        cmp["p99_ratio"] = ours.loaded["p99_ms"] / best.loaded["p99_ms"]
        cmp["cpu_ratio"] = ours.cpu_ms_per_request / best.cpu_ms_per_request
        verdict = "PASS" if cmp["throughput_ratio"] >= TARGET else "FAIL"
        lines += ["", table(["ratio (duralua / " + best.system + ")", "value", "target", "verdict"], [
            ["throughput (req/s)", fmt_ratio(cmp["throughput_ratio"]), f">= {TARGET:g}x", verdict],
            ["p50 latency under load", fmt_ratio(cmp["p50_ratio"]), "-", "-"],
            ["p99 latency under load", fmt_ratio(cmp["p99_ratio"]), "-", "-"],
            ["server CPU per request", fmt_ratio(cmp["cpu_ratio"]), "-", "-"],
        ])]  # fmt: skip
    return "\n".join(lines), cmp


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--n", type=int, default=3000, help="requests under load")
    p.add_argument("--c", type=int, default=64, help="concurrent keep-alive connections")
    p.add_argument("--m", type=int, default=200, help="requests one at a time (unloaded latency)")
    p.add_argument("--warmup", type=int, default=50)
    p.add_argument("--only", choices=SYSTEMS, action="append", help="run only these systems")
    p.add_argument("--synchronous", default="FULL", choices=("FULL", "NORMAL"), help="duralua SQLite synchronous")
    p.add_argument("--json", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the databases")
    p.add_argument("--tmpdir", help="where the temporary directories go")
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--serve", choices=SYSTEMS, help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    p.add_argument("--load", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        if args.serve == "duralua":
            asyncio.run(_serve_duralua(Path(args.workdir), args.synchronous))
        else:
            _serve_dbos(Path(args.workdir), args.serve.split("-")[1])
        return 0
    if args.load:
        print(json.dumps(asyncio.run(_load(args.load, args.n, args.c, args.m, args.warmup, Path(args.workdir)))))
        return 0
    base = Path(args.tmpdir or tempfile.gettempdir()).resolve()
    figs = [measure(system, args, base) for system in (args.only or SYSTEMS)]
    facts = machine_facts(["duralua", "dbos", "starlette", "uvicorn", "lupa"], tmpdir=base)
    text, cmp = report(figs, facts, args)
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps({"benchmark": "http_start", "params": {k: getattr(args, k) for k in ("n", "c", "m", "warmup")},
                          "machine": facts, "results": [asdict(f) for f in figs], **cmp}, indent=2))  # fmt: skip
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
