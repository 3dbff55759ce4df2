"""``duralua workflow ...``: operate workflows of the embedded engine.

Reads go straight to the database (WAL readers never block the engine). Writes (start,
signal, terminate, cancel) go to the engine that serves the app: if a ``duralua run`` holds
the database they are queued in its ``requests`` table and it picks them up within ~100 ms;
if none runs, this command drives the engine itself until the workflows have nothing left
to do right now (they continue at the next ``duralua run``).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..codec import decode, dumps, to_plain
from ..core.history import History
from ..core.options import OptionError, parse_workflow_options
from ..embedded.engine import CLOSED, EmbeddedEngine, list_runs, load_history, summary_of
from ..embedded.store import ProcessLock, Store
from ..engine import StartRequest
from ..errors import CallError, NondeterminismError, WorkflowNotFound
from .common import Ctx, err_console, fail, out_console, print_json

app = typer.Typer(help="Start, inspect, signal and replay workflows.", no_args_is_help=True)

DirOpt = Annotated[Path, typer.Option("--dir", "-d", help="App directory.")]
DbOpt = Annotated[Path | None, typer.Option("--db", help="SQLite file (default: <app>/.duralua/duralua.db).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def _store(ctx: Ctx) -> Store:
    path = ctx.db_path()
    if not path.exists():
        fail(f"no database at {path}", hint="start a workflow first, or pass --db")
    return Store(path, readonly=True)


def _row(store: Store, ident: str) -> dict[str, Any]:
    from ..core.pid import parse_pid

    p = parse_pid(ident)
    row = store.latest_run(p.uniq if p else ident) or store.run_row(ident)
    if row is None:
        fail(f"no workflow with id {ident}", hint="`duralua workflow list` shows the known runs")
    return row


def _engine_busy(ctx: Ctx) -> bool:
    return ctx.db_path().exists() and ProcessLock(ctx.db_path()).held_elsewhere()


def _submit(ctx: Ctx, kind: str, body: dict[str, Any]) -> None:
    store = Store(ctx.db_path())
    try:
        with store.transaction() as db:
            Store.add_request(db, kind, body, time.time_ns())
    finally:
        store.close()


async def _drive(ctx: Ctx, action: Any, *, wait_pid: str | None = None) -> Any:
    """Run the engine in this process for one action, until idle (or the run finished)."""
    app_ = ctx.app()
    async with app_.engine(ctx.db_path()) as wf:
        result = await action(wf)
        if wait_pid is not None:
            return await wf.engine.result(wait_pid)
        await wf.engine.wait_idle()
        return result


def _ts(ns: int | None) -> str:
    if ns is None:
        return "-"
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S")


STATUS_STYLE = {"running": "cyan", "completed": "green", "failed": "red", "held": "magenta",
                "terminated": "yellow", "canceled": "yellow", "continued": "blue"}  # fmt: skip


@app.command()
def start(
    workflow: Annotated[str, typer.Argument(help="Workflow entry id, e.g. app:order_workflow.")],
    args: Annotated[list[str] | None, typer.Argument(help="Input arguments, each a JSON value.")] = None,
    worker: Annotated[str | None, typer.Option(help="temporal.worker entry id (default: the workflow's).")] = None,
    workflow_id: Annotated[str | None, typer.Option("--id", help="Workflow id (default: generated).")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the result.")] = False,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start a workflow; prints its PID."""
    ctx = Ctx(directory, db)
    values = [_json_arg(a, i) for i, a in enumerate(args or [], 1)]
    catalog = ctx.app().catalog
    wf_def = catalog.workflows.get(workflow)
    if wf_def is None:
        known = ", ".join(sorted(catalog.workflows)) or "none"
        fail(f"workflow {workflow} not found", hint=f"workflows of this app: {known}")
    try:
        opts = parse_workflow_options({})
    except OptionError as exc:  # pragma: no cover - empty options always parse
        fail(str(exc))
    request = StartRequest(workflow, worker or wf_def.worker_id, values, opts, {}, workflow_id)
    if _engine_busy(ctx):
        engine = EmbeddedEngine(catalog, ctx.app().runtime, ctx.db_path())
        try:
            info, _ = engine.prepare_start(request)
        except CallError as exc:
            fail(exc.failure.message)
        request.workflow_id = info.workflow_id
        _submit(ctx, "start", _request_json(request))
        pid = info.pid
        if wait:
            _print_outcome(ctx, pid, as_json, wait=True)
            return
        _emit({"pid": pid, "workflow_id": info.workflow_id, "queued": True}, as_json,
              f"started {pid} (queued for the running engine)")  # fmt: skip
        return

    async def do(wf: Any) -> str:
        return str(await wf.engine.start_workflow(request))

    try:
        if wait:
            engine_result: dict[str, Any] = {}

            async def do_wait(wf: Any) -> Any:
                pid = await do(wf)
                engine_result["pid"] = pid
                return await wf.engine.result(pid)

            value, failure = asyncio.run(_drive(ctx, do_wait))
            _emit_outcome(engine_result["pid"], value, failure, as_json)
            return
        pid = asyncio.run(_drive(ctx, do))
    except CallError as exc:
        fail(exc.failure.message)
    store = _store(ctx)
    row = _row(store, pid)
    note = "" if row["status"] in CLOSED else " — waiting; it continues when `duralua run` serves the app"
    _emit({"pid": pid, "workflow_id": row["workflow_id"], "status": row["status"]}, as_json,
          f"started {pid} [{row['status']}]{note}")  # fmt: skip


def _request_json(req: StartRequest) -> dict[str, Any]:
    return {"workflow_type": req.workflow_type, "worker_id": req.worker_id, "args": req.args,
            "options": req.options, "context": req.context, "workflow_id": req.workflow_id,
            "messages": req.messages, "sender": req.sender}  # fmt: skip


def _json_arg(text: str, index: int) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"argument {index} is not valid JSON ({exc.msg}): {text!r}",
             hint='quote strings as JSON, e.g. \'"hello"\' or \'{"id": 1}\'')  # fmt: skip


def _emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        print_json(data)
    else:
        out_console.print(text, highlight=False)


@app.command("list")
def list_cmd(
    status: Annotated[str | None, typer.Option(help="running, completed, failed, held, terminated ...")] = None,
    workflow_type: Annotated[str | None, typer.Option("--type", help="Workflow entry id.")] = None,
    search: Annotated[list[str] | None, typer.Option(help="Search attribute filter NAME=JSON (repeatable).")] = None,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List workflow runs, with filters."""
    ctx = Ctx(directory, db)
    query: dict[str, Any] = {}
    for item in search or []:
        name, sep, raw = item.partition("=")
        if not sep:
            fail(f"--search {item!r} must be NAME=VALUE")
        try:
            query[name] = json.loads(raw)
        except json.JSONDecodeError:
            query[name] = raw
    runs = list_runs(_store(ctx), status=status, workflow_type=workflow_type, query=query or None)
    if as_json:
        print_json([r.to_json() for r in runs])
        return
    table = Table(title=f"{len(runs)} run(s)")
    for col in ("workflow id", "type", "status", "started", "closed", "note"):
        table.add_column(col)
    for r in runs:
        style = STATUS_STYLE.get(r.status, "white")
        note = r.reason or (r.failure.message if r.failure else "")
        table.add_row(r.workflow_id, r.workflow_type, f"[{style}]{r.status}[/{style}]", _ts(r.start_time_ns),
                      _ts(r.close_time_ns), note[:80])  # fmt: skip
    out_console.print(table)


@app.command()
def describe(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one run: status, why it is held or failed, attributes, result."""
    ctx = Ctx(directory, db)
    store = _store(ctx)
    row = _row(store, ident)
    s = summary_of(row)
    history = load_history(store, row)
    data = {**s.to_json(), "history_length": history.length(), "input": decode(row["info"]).get("args", [])}
    if as_json:
        print_json(data)
        return
    table = Table(show_header=False, box=None)
    for key in ("workflow_id", "run_id", "workflow_type", "status", "pid", "task_queue"):
        table.add_row(f"[bold]{key}[/bold]", str(data[key]))
    table.add_row("[bold]started[/bold]", _ts(s.start_time_ns))
    table.add_row("[bold]closed[/bold]", _ts(s.close_time_ns))
    table.add_row("[bold]history[/bold]", f"{data['history_length']} events")
    if s.reason:
        table.add_row("[bold magenta]held because[/bold magenta]", s.reason)
    if s.search:
        table.add_row("[bold]search[/bold]", dumps(s.search))
    if s.memo:
        table.add_row("[bold]memo[/bold]", dumps(s.memo))
    if s.failure:
        table.add_row("[bold red]failure[/bold red]", f"{s.failure.kind}: {s.failure.message}")
    elif s.status in CLOSED:
        table.add_row("[bold]result[/bold]", dumps(to_plain(s.result)))
    out_console.print(table)


@app.command()
def history(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a run's history (``--json`` exports it for ``workflow replay --file``)."""
    ctx = Ctx(directory, db)
    store = _store(ctx)
    h = load_history(store, _row(store, ident))
    if as_json:
        print_json(h.to_json())
        return
    table = Table(title=f"history of {h.info.workflow_id} ({h.info.workflow_type})")
    table.add_column("#", justify="right")
    table.add_column("event")
    table.add_column("details")
    for ev in h.events():
        details = {k: v for k, v in ev.items() if k not in ("id", "event")}
        table.add_row(str(ev["id"]), ev["event"], dumps(to_plain(details))[:120])
    out_console.print(table)


@app.command()
def result(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    wait: Annotated[bool, typer.Option(help="Wait until the run closes.")] = False,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a run's result (exit 1 if it failed, 2 if it is still running)."""
    _print_outcome(Ctx(directory, db), ident, as_json, wait=wait)


def _print_outcome(ctx: Ctx, ident: str, as_json: bool, *, wait: bool) -> None:
    while True:
        store = _store(ctx)
        row = _row(store, ident)
        status = row["status"]
        if status in ("continued",) or (status == "failed" and store.latest_run(row["workflow_id"]) != row):
            row = store.latest_run(row["workflow_id"]) or row
            status = row["status"]
        store.close()
        if status in CLOSED:
            s = summary_of(row)
            _emit_outcome(s.pid, s.result, s.failure, as_json)
            return
        if not wait:
            _emit({"workflow_id": row["workflow_id"], "status": status}, as_json,
                  f"{row['workflow_id']} is {status}")  # fmt: skip
            raise typer.Exit(2)
        time.sleep(0.2)


def _emit_outcome(pid: str, value: Any, failure: Any, as_json: bool) -> None:
    if failure is not None:
        if as_json:
            print_json({"pid": pid, "error": failure.to_json()})
        else:
            err_console.print(f"[red]{failure.kind or 'error'}[/red]: {failure.message}", highlight=False)
        raise typer.Exit(1)
    if as_json:
        print_json({"pid": pid, "result": value})
    else:
        out_console.print_json(json.dumps(to_plain(value)))


@app.command()
def signal(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    topic: Annotated[str, typer.Argument(help="Signal topic, e.g. approve.")],
    payload: Annotated[str | None, typer.Argument(help="Payload as JSON.")] = None,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a message to a workflow's inbox (process.send)."""
    ctx = Ctx(directory, db)
    payloads = [] if payload is None else [_json_arg(payload, 1)]
    store = _store(ctx)
    row = _row(store, ident)
    if row["status"] in CLOSED:
        fail(f"workflow {row['workflow_id']} is not running (status {row['status']})")
    pid = summary_of(row).pid
    _control(ctx, "signal", {"pid": pid, "topic": topic, "payloads": payloads},
             lambda wf: wf.engine.signal(pid, topic, payloads))  # fmt: skip
    _emit({"pid": pid, "topic": topic, "sent": True}, as_json, f"sent {topic} to {pid}")


@app.command()
def terminate(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the run).")] = "terminated from the CLI",
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop a run at once (no Lua code runs)."""
    ctx = Ctx(directory, db)
    pid = summary_of(_row(_store(ctx), ident)).pid
    _control(ctx, "terminate", {"pid": pid, "reason": reason}, lambda wf: wf.engine.terminate(pid, reason))
    _emit({"pid": pid, "terminated": True}, as_json, f"terminated {pid}")


@app.command()
def cancel(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask a run to cancel (it receives a pid.cancel event)."""
    ctx = Ctx(directory, db)
    pid = summary_of(_row(_store(ctx), ident)).pid
    _control(ctx, "cancel", {"pid": pid}, lambda wf: wf.engine.cancel(pid))
    _emit({"pid": pid, "cancel_requested": True}, as_json, f"cancel requested for {pid}")


def _control(ctx: Ctx, kind: str, body: dict[str, Any], action: Any) -> None:
    if _engine_busy(ctx):
        _submit(ctx, kind, body)
        return
    try:
        asyncio.run(_drive(ctx, action))
    except CallError as exc:
        fail(exc.failure.message)


@app.command()
def replay(
    ident: Annotated[str | None, typer.Argument(help="Workflow id or PID in the database.")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="History JSON (from `history --json`).")] = None,
    all_runs: Annotated[bool, typer.Option("--all", help="Replay every run in the database.")] = False,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay stored histories against the current code; exit 1 on non-determinism (use in CI)."""
    ctx = Ctx(directory, db)
    histories: list[History] = []
    if file is not None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            fail(f"cannot read history file {file}: {exc}")
        if isinstance(data, dict) and "events" in data:
            from ..temporal.replay import replay_temporal_history

            ok, message = replay_temporal_history(ctx.app(), data)
            _replay_report([(file.name, ok, message)], as_json)
            return
        histories.append(History.from_json(data))
    else:
        store = _store(ctx)
        if all_runs:
            histories += [load_history(store, r) for r in store.runs()]
        elif ident is not None:
            histories.append(load_history(store, _row(store, ident)))
        else:
            fail("name a workflow id, --file or --all")
    from ..embedded.replayer import replay_history

    results = []
    for h in histories:
        try:
            replay_history(ctx.app(), h)
            results.append((h.info.workflow_id, True, "replayed cleanly"))
        except NondeterminismError as exc:
            results.append((h.info.workflow_id, False, str(exc)))
        except WorkflowNotFound as exc:
            results.append((h.info.workflow_id, False, str(exc)))
    _replay_report(results, as_json)


def _replay_report(results: list[tuple[str, bool, str]], as_json: bool) -> None:
    if as_json:
        print_json([{"workflow_id": w, "ok": ok, "message": msg} for w, ok, msg in results])
    else:
        for w, ok, msg in results:
            mark = "[green]ok[/green]" if ok else "[red]NON-DETERMINISTIC[/red]"
            err_console.print(f"{mark} {w}: {msg}", highlight=False)
    if not all(ok for _w, ok, _m in results):
        raise typer.Exit(1)

# `workflow update` and `workflow query` live in their own module.
from . import update_cmd  # noqa: E402

update_cmd.register(app)
