"""Read-only ``duralua workflow`` commands: list, describe, history, replay.

They read the database directly (WAL readers never block the engine), opened with SQLite's
``mode=ro``: a read-only file or directory can still be inspected. Every value that comes
from a run (ids, reasons, results) is printed as plain text, never as Rich markup.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ..codec import check_value, decode, to_plain
from ..core.history import History
from ..embedded.queries import CLOSED, list_runs, load_history, pending_of, summary_of
from ..embedded.store import Store
from ..engine import RunSummary
from ..errors import DuraluaError, EncodeError, NondeterminismError, WorkflowNotFound
from . import render, temporal_cmd
from .common import (
    AddressOpt,
    Ctx,
    DirOpt,
    EngineOpt,
    JsonOpt,
    NamespaceOpt,
    fail,
    on_temporal,
    out_console,
    print_json,
    use_json,
    warn,
)
from .temporal_cmd import Server

DbOpt = Annotated[Path | None, typer.Option("--db", help="SQLite file (default: <app>/.duralua/duralua.db).")]

STATUSES = ("running", "held", "completed", "failed", "terminated", "canceled", "continued", "timed_out")
STATUS_STYLE = render.STATUS_STYLE


def open_store(ctx: Ctx) -> Store:
    path = ctx.db_path()
    if not path.exists():
        fail(f"no database at {path}", hint="start a workflow first, or pass --db")
    return Store(path, readonly=True)


def find_row(store: Store, ident: str) -> dict[str, Any]:
    from ..core.pid import parse_pid

    p = parse_pid(ident)
    row = store.latest_run(p.uniq if p else ident) or store.run_row(ident)
    if row is None:
        fail(f"no workflow with id {ident}", hint="`duralua workflow list` shows the known runs")
    return row


ts = render.when
status_text = render.status_text


def _search_value(item: str) -> tuple[str, Any]:
    name, sep, raw = item.partition("=")
    if not sep or not name:
        fail(f"--search {item!r} must be NAME=VALUE", hint="e.g. --search customer='\"ada\"' or --search total=30")
    try:
        value = json.loads(raw)
        check_value(value, f"--search {name}")
    except (ValueError, RecursionError, EncodeError):
        value = raw  # not JSON: the text itself, as `--search customer=ada` means
    return name, value


def list_cmd(
    status: Annotated[str | None, typer.Option(help=f"One of: {', '.join(STATUSES)}.")] = None,
    workflow_type: Annotated[str | None, typer.Option("--type", help="Workflow entry id.")] = None,
    search: Annotated[list[str] | None, typer.Option(help="Search attribute filter NAME=JSON (repeatable).")] = None,
    limit: Annotated[int | None, typer.Option(help="Show at most this many runs (the newest).", min=1)] = None,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    engine: EngineOpt = "embedded",
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List workflow runs, newest first, with filters."""
    use_json(as_json)
    ctx = Ctx(directory, db)
    if status is not None and status not in STATUSES:
        fail(f"unknown status {status!r}", hint=f"use one of: {', '.join(STATUSES)}")
    query = dict(_search_value(item) for item in search or [])
    if on_temporal(engine):
        found = temporal_cmd.list_runs(ctx, Server(address, namespace), status, workflow_type, query or None, limit)
    else:
        found = list_runs(open_store(ctx), status=status, workflow_type=workflow_type, query=query or None)
    print_runs(found, limit, as_json)


def print_runs(found: list[RunSummary], limit: int | None, as_json: bool) -> None:
    """The runs (oldest first) as a table, newest first, at most ``limit`` of them."""
    runs = found[::-1][:limit]
    if as_json:
        print_json([r.to_json() for r in runs])
        return
    shown = f"the newest {len(runs)} of " if len(runs) < len(found) else ""
    table = Table(title=f"{shown}{len(found)} run(s)")
    for col in ("workflow id", "type", "status", "started", "closed", "note"):
        # Ids fold instead of ending in "…": a cut id cannot be pasted into the next command.
        table.add_column(col, overflow="fold" if col in ("workflow id", "type") else "ellipsis")
    for r in runs:
        note = r.reason or (r.failure.message if r.failure else "")
        table.add_row(Text(r.workflow_id), Text(r.workflow_type), status_text(r.status), ts(r.start_time_ns),
                      ts(r.close_time_ns), Text(note[:80]))  # fmt: skip
    out_console.print(table)


def describe(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    engine: EngineOpt = "embedded",
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one run: status, why it is held or failed, and what it waits for.

    Like `temporal workflow describe`: pending activities (attempt, last failure, next
    retry), pending timers, children and the messages waiting in its mailbox.
    """
    use_json(as_json)
    ctx = Ctx(directory, db)
    if on_temporal(engine):
        temporal_cmd.describe(ctx, Server(address, namespace), ident, as_json)
        return
    store = open_store(ctx)
    row = find_row(store, ident)
    s = summary_of(row)
    history = load_history(store, row)
    pending = pending_of(store, row["run_id"]) if s.status not in CLOSED else None
    if pending is not None:
        unread = unread_messages(ctx, history)
        if unread is not None:
            pending["inbox"] = unread + pending["inbox"]
    data = render.describe_json(s, history_length=history.length(), args=decode(row["info"]).get("args", []),
                                pending=pending)  # fmt: skip
    if as_json:
        print_json(data)
        return
    render.print_describe(data, s)


def unread_messages(ctx: Ctx, history: History) -> list[dict[str, Any]] | None:
    """The messages a run received but its code has not read yet, by replaying its history
    with the app's code (the database keeps only those not delivered to the run yet); None
    when that cannot be known here (no app in --dir, or the code no longer replays it)."""
    from ..core.history import replay
    from ..core.machine import WorkflowMachine
    from ..lua.workflow_program import LuaWorkflowProgram
    from ..registry import is_app_dir

    if not is_app_dir(ctx.root):
        return None
    try:
        app = ctx.app()
        wf = app.catalog.workflows.get(history.info.workflow_type)
        if wf is None:
            return None
        program = LuaWorkflowProgram(wf.code, scope=app.catalog)
        machine = WorkflowMachine(history.info, program, activity_defaults=app.catalog.activity_defaults,
                                  recorded_versions=history.recorded_versions())  # fmt: skip
    except DuraluaError:
        return None
    try:
        replay(machine, history)
        return [{"topic": d.topic, "sender": d.sender, "payloads": to_plain(d.payloads)}
                for d in machine.scheduler.unread_messages()]  # fmt: skip
    except Exception:  # the run's code fails or diverges on replay: describe still shows the rest
        return None
    finally:
        machine.close()


def history(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    engine: EngineOpt = "embedded",
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a run's history: events with their times (`--json` exports it for `workflow replay --file`)."""
    use_json(as_json)
    ctx = Ctx(directory, db)
    if on_temporal(engine):
        temporal_cmd.history(ctx, Server(address, namespace), ident, as_json)
        return
    store = open_store(ctx)
    row = find_row(store, ident)
    h = load_history(store, row)
    if as_json:
        print_json(h.to_json())
        return
    title = f"history of {h.info.workflow_id} ({h.info.workflow_type}), run {h.info.run_id}: {h.length()} events"
    render.print_history(title, render.embedded_rows(h), int(row["start_ns"]))


def _read_history_file(file: Path) -> Any:
    try:
        text = file.read_bytes().decode("utf-8")
        return json.loads(text)
    except OSError as exc:
        fail(f"cannot read history file {file}: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        fail(f"history file {file} is not UTF-8 text (byte {exc.start})",
             hint="pass the output of `duralua workflow history ID --json`")  # fmt: skip
    except json.JSONDecodeError as exc:
        fail(f"history file {file} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
             hint="was it truncated? export it again with `duralua workflow history ID --json`")  # fmt: skip
    except RecursionError:
        fail(f"history file {file} is nested too deeply to be a history export")


def _history_from_file(file: Path, data: Any) -> History:
    hint = "pass the output of `duralua workflow history ID --json` (or a Temporal history export)"
    if not isinstance(data, dict) or not isinstance(data.get("info"), dict):
        fail(f"history file {file} is not a duralua history export (expected an object with info and "
             "activations)", hint=hint)  # fmt: skip
    try:
        return History.from_json(data)
    except Exception as exc:  # the file is untrusted input: any shape error is a one-line refusal
        detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        fail(f"history file {file} is not a valid duralua history export ({detail})", hint=hint)


def _check_temporal_export(file: Path, data: dict[str, Any]) -> None:
    """Refuse what the Temporal replayer cannot take: it hangs on a history whose first event
    is not WorkflowExecutionStarted instead of failing."""
    if not isinstance(data["events"], list):
        fail(f"history file {file} is not a Temporal history export (events is not a list)")
    temporal_cmd.require_temporal("replaying a Temporal history export")
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import WorkflowHistory

    try:
        events = WorkflowHistory.from_json("replay", data).events
    except Exception as exc:  # untrusted input; the parser raises many kinds
        fail(f"history file {file} is not a Temporal history export ({type(exc).__name__}: {exc})")
    if not events or events[0].event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        fail(f"history file {file} is not a Temporal history export (it must start with WorkflowExecutionStarted)")


def replay(
    ident: Annotated[str | None, typer.Argument(help="Workflow id or PID in the database.")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="History JSON (from `history --json`).")] = None,
    all_runs: Annotated[bool, typer.Option("--all", help="Replay every run in the database.")] = False,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    engine: EngineOpt = "embedded",
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Replay stored histories against the current code; exit 1 on non-determinism (use in CI)."""
    use_json(as_json)
    ctx = Ctx(directory, db)
    histories: list[History] = []
    if file is None and on_temporal(engine):
        _replay_report(temporal_cmd.replay(ctx, Server(address, namespace), ident, all_runs), as_json)
        return
    if file is not None:
        data = _read_history_file(file)
        if isinstance(data, dict) and "events" in data:
            _check_temporal_export(file, data)
            from ..temporal.replay import replay_temporal_history

            ok, message = replay_temporal_history(ctx.app(), data)
            if not ok and message.startswith("not a Temporal history export"):
                fail(f"history file {file} is {message}")
            _replay_report([(file.name, ok, message, "ok" if ok else "NON-DETERMINISTIC")], as_json)
            return
        histories.append(_history_from_file(file, data))
    else:
        store = open_store(ctx)
        if all_runs:
            histories += [load_history(store, r) for r in store.runs()]
        elif ident is not None:
            histories.append(load_history(store, find_row(store, ident)))
        else:
            fail("name a workflow id, --file or --all")
    from ..embedded.replayer import replay_history

    results = []
    for h in histories:
        wid = h.info.workflow_id
        try:
            replay_history(ctx.app(), h)
            results.append((wid, True, "replayed cleanly", "ok"))
        except NondeterminismError as exc:
            results.append((wid, False, str(exc), "NON-DETERMINISTIC"))
        except WorkflowNotFound as exc:
            results.append((wid, False, str(exc), "NOT FOUND"))
        except DuraluaError as exc:  # the code fails to load or raises where the history did not
            results.append((wid, False, f"replay failed: {exc}", "FAILED"))
    _replay_report(results, as_json)


def _replay_report(results: list[tuple[str, bool, str, str]], as_json: bool) -> None:
    if as_json:
        print_json([{"workflow_id": w, "ok": ok, "message": msg} for w, ok, msg, _label in results])
    else:
        for w, ok, msg, label in results:
            warn((label, "green" if ok else "red"), f" {w}: {msg}")
    if not all(r[1] for r in results):
        raise typer.Exit(1)
