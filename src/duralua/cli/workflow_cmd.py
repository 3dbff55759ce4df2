"""``duralua workflow ...``: operate workflows of the embedded engine.

Reads go straight to the database (see :mod:`.workflow_show`). Changes (start, signal,
terminate, cancel) go through :mod:`.engine_link`: to the ``duralua run`` that serves the
database, which applies them and records the outcome, or, when none runs, to an engine
started in this process only until the change is committed.

Exit status: 0 done, 1 refused or failed, 2 not finished (a run still open, or a change
still queued because no engine applied it in time).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from ..codec import JSONValue, to_plain
from ..core.options import OptionError, parse_workflow_options
from ..embedded.engine import EmbeddedEngine
from ..embedded.queries import CLOSED, summary_of
from ..engine import StartRequest
from ..errors import CallError, EngineError, Failure
from . import db_cmd, temporal_cmd, workflow_show
from .common import (
    AddressOpt,
    Ctx,
    DirOpt,
    EngineOpt,
    JsonOpt,
    NamespaceOpt,
    error_line,
    fail,
    on_temporal,
    out_console,
    parse_json_arg,
    print_json,
    report_error,
    say,
    use_json,
)
from .engine_link import (
    ENGINE_GONE_SECONDS,
    REQUEST_TIMEOUT,
    Outcome,
    apply,
    await_request,
    committed,
    drive,
    engine_serving,
    queue_request,
)
from .temporal_cmd import Server
from .workflow_show import DbOpt, find_row, open_store

app = typer.Typer(help="Start, inspect, signal and replay workflows.", no_args_is_help=True)

# Without a running engine, `start --wait` drives one here; it gives up after this long so a
# workflow that sleeps for an hour does not hold the terminal (it continues under `duralua run`).
DRIVE_WAIT_SECONDS = 30.0
RESULT_POLL_SECONDS = 0.2
NOT_SERVED_HINT = "start `duralua run` for this app (it picks the run up where it is)"

TimeoutOpt = Annotated[
    float | None,
    typer.Option(help="Seconds to wait for the serving engine to apply the change (default 10).", min=0),
]


def start(
    workflow: Annotated[str, typer.Argument(help="Workflow entry id, e.g. app:order_workflow.")],
    args: Annotated[list[str] | None, typer.Argument(help="Input arguments, each a JSON value.")] = None,
    worker: Annotated[str | None, typer.Option(help="temporal.worker entry id (default: the workflow's).")] = None,
    workflow_id: Annotated[str | None, typer.Option("--id", help="Workflow id (default: generated).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the result.")] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            help="With --wait: seconds to wait for the result (default: no limit while `duralua run` serves the "
            "database, 30 when this command runs the engine itself). Without: seconds the serving engine may "
            "take to apply the start (default 10).",
            min=0,
        ),
    ] = None,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    engine: EngineOpt = "embedded",
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Start a workflow; prints its PID.

    With a `duralua run` serving the database, the start is handed to it; otherwise this
    command records the start and stops: the workflow runs when `duralua run` serves the app
    (with --wait it runs here until its result, or the timeout).
    """
    use_json(as_json)
    ctx = Ctx(directory, db)
    values = [parse_json_arg(a, f"argument {i}") for i, a in enumerate(args or [], 1)]
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
    if on_temporal(engine):
        _start_on_temporal(ctx, Server(address, namespace), request, wait, timeout, as_json)
        return
    db_path = ctx.db_path()
    if engine_serving(db_path):
        _start_queued(ctx, request, wait, timeout, as_json)
        return
    try:
        if wait:
            _start_and_wait_here(ctx, request, DRIVE_WAIT_SECONDS if timeout is None else timeout, as_json)
            return
        pid = drive(ctx, lambda engine: engine.start_workflow(request))
    except CallError as exc:
        _refused(exc.failure)
    except EngineError:
        if not engine_serving(db_path):
            raise
        # A `duralua run` started between the probe and our own engine start: hand it the start.
        _start_queued(ctx, request, wait, timeout, as_json)
        return
    _report_started(ctx, pid, as_json, note=" — it runs when `duralua run` serves the app")


def _start_on_temporal(ctx: Ctx, server: Server, request: StartRequest, wait: bool, timeout: float | None,
                       as_json: bool) -> None:  # fmt: skip
    summary, found = temporal_cmd.start(ctx, server, request, wait, timeout)
    if not wait:
        _started(summary.pid, summary.workflow_id, summary.status, as_json)
    elif found is None:
        _emit({"pid": summary.pid, "status": summary.status, "timed_out": True}, as_json,
              f"{summary.pid} is still {summary.status} after {timeout:g} s")  # fmt: skip
        raise typer.Exit(2)
    else:
        emit_outcome(summary.pid, found[0], found[1], as_json)


def _start_queued(ctx: Ctx, request: StartRequest, wait: bool, timeout: float | None, as_json: bool) -> None:
    db_path = ctx.db_path()
    # Validate and fix the workflow id here, so a refusal is immediate and a start that is
    # still queued when the wait runs out can be named.
    engine = EmbeddedEngine(ctx.app().catalog, ctx.app().runtime, db_path)
    try:
        info, _ = engine.prepare_start(request)
    except CallError as exc:
        _refused(exc.failure)
    request.workflow_id = info.workflow_id
    began = time.monotonic()
    request_wait = REQUEST_TIMEOUT if timeout is None else timeout
    outcome = await_request(db_path, queue_request(db_path, "start", _request_json(request)), request_wait, "start")
    if outcome.state != "done":
        _not_applied(outcome, f"start of {info.workflow_id}", {"pid": info.pid, "workflow_id": info.workflow_id},
                     as_json)  # fmt: skip
    pid = str(outcome.data.get("pid") or info.pid)
    if wait:
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - began))
        wait_for_result(ctx, pid, as_json, wait=True, timeout=left, shown_timeout=timeout)
        return
    _report_started(ctx, pid, as_json)


def _start_and_wait_here(ctx: Ctx, request: StartRequest, limit: float, as_json: bool) -> None:
    async def act(engine: Any) -> tuple[str, tuple[JSONValue, Failure | None] | None]:
        pid = str(await committed(engine.start_workflow(request), ctx.db_path()))
        try:
            async with asyncio.timeout(limit):
                return pid, await engine.result(pid)
        except TimeoutError:
            return pid, None

    pid, outcome = drive(ctx, act, bounded=False)
    if outcome is None:
        _emit({"pid": pid, "status": "running", "timed_out": True}, as_json,
              f"{pid} is still running after {limit:g} s; it continues when `duralua run` serves the app")  # fmt: skip
        raise typer.Exit(2)
    emit_outcome(pid, outcome[0], outcome[1], as_json)


def _report_started(ctx: Ctx, pid: str, as_json: bool, note: str = "") -> None:
    store = open_store(ctx)
    try:
        row = find_row(store, pid)
    finally:
        store.close()
    _started(pid, row["workflow_id"], row["status"], as_json, note)


def _started(pid: str, workflow_id: str, status: str, as_json: bool, note: str = "") -> None:
    note = "" if status in CLOSED else note
    data = {"pid": pid, "workflow_id": workflow_id, "status": status}
    if as_json:
        print_json(data)
    else:
        say(f"started {pid} ", (f"[{status}]", workflow_show.STATUS_STYLE.get(status, "")), note)


def _request_json(req: StartRequest) -> dict[str, Any]:
    return {"workflow_type": req.workflow_type, "worker_id": req.worker_id, "args": req.args,
            "options": req.options, "context": req.context, "workflow_id": req.workflow_id,
            "messages": req.messages, "sender": req.sender}  # fmt: skip


def _emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    if as_json:
        print_json(data)
    else:
        say(text)


def _refused(failure: Failure) -> NoReturn:
    fail(failure.message, kind=failure.kind)


def _not_applied(outcome: Outcome, what: str, data: dict[str, Any], as_json: bool) -> NoReturn:
    """Report a change the engine refused (exit 1) or has not applied yet (exit 2)."""
    failure = outcome.failure
    if failure is not None:
        _refused(failure)
    if as_json:
        print_json({**data, "queued": True, "applied": False, "reason": outcome.queued_because})
    else:
        report_error(f"{what} is queued but not applied yet ({outcome.queued_because}); the engine applies it "
                     "when `duralua run` serves the app", label="not applied")  # fmt: skip
    raise typer.Exit(2)


def result(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until the run closes (needs a running `duralua run`).")
    ] = False,
    timeout: Annotated[float | None, typer.Option(help="With --wait: give up after this many seconds.", min=0)] = None,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    engine: EngineOpt = "embedded",
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print a run's result (exit 1 if it failed, 2 if it is still running)."""
    use_json(as_json)
    ctx = Ctx(directory, db)
    if on_temporal(engine):
        summary, found = temporal_cmd.outcome(ctx, Server(address, namespace), ident, wait, timeout)
        if found is not None:
            emit_outcome(summary.pid, found[0], found[1], as_json)
            return
        data = {"workflow_id": summary.workflow_id, "status": summary.status}
        if not wait:
            _emit(data, as_json, f"{summary.workflow_id} is {summary.status}")
            raise typer.Exit(2)
        text = f"workflow {summary.workflow_id} is still {summary.status} after {timeout or 0:g} s"
        _open_run_report({**data, "timed_out": True}, as_json, text)
    wait_for_result(ctx, ident, as_json, wait=wait, timeout=timeout)


def _latest(store: Any, row: dict[str, Any]) -> dict[str, Any]:
    """Follow continue-as-new and workflow retries to the run that carries the outcome."""
    if row["status"] == "continued" or row["status"] == "failed":
        latest: dict[str, Any] | None = store.latest_run(row["workflow_id"])
        if latest is not None and latest["run_id"] != row["run_id"]:
            return latest
    return row


def wait_for_result(
    ctx: Ctx, ident: str, as_json: bool, *, wait: bool, timeout: float | None, shown_timeout: float | None = None
) -> None:
    """Print the outcome of ``ident``'s latest run; with ``wait``, poll until it closes, the
    timeout runs out, or no engine serves the database (said at once: nothing else would
    ever close the run)."""
    db_path = ctx.db_path()
    store = open_store(ctx)
    deadline = None if timeout is None else time.monotonic() + timeout
    last_probe: float | None = None
    gone_since: float | None = None
    try:
        while True:
            row = _latest(store, find_row(store, ident))
            status = row["status"]
            if status in CLOSED:
                s = summary_of(row)
                emit_outcome(s.pid, s.result, s.failure, as_json)
                return
            wid = row["workflow_id"]
            data = {"workflow_id": wid, "status": status}
            if not wait:
                _emit(data, as_json, f"{wid} is {status}")
                raise typer.Exit(2)
            if status == "held":
                _open_run_report({**data, "reason": row["reason"]}, as_json,
                                 f"workflow {wid} is held ({row['reason']}); it is retried when `duralua run` "
                                 "starts again (fix the cause first)")  # fmt: skip
            now = time.monotonic()
            if last_probe is None or now - last_probe >= 0.5:
                first = last_probe is None
                last_probe = now
                if engine_serving(db_path):
                    gone_since = None
                elif first:
                    gone_since = now - ENGINE_GONE_SECONDS
                elif gone_since is None:
                    gone_since = now  # stopped meanwhile, or restarting: give it a moment
            if gone_since is not None and now - gone_since >= ENGINE_GONE_SECONDS:
                _open_run_report({**data, "served": False}, as_json,
                                 f"no engine is serving {db_path}; workflow {wid} is {status} and does not "
                                 f"progress until one does: {NOT_SERVED_HINT}")  # fmt: skip
            if deadline is not None and now >= deadline:
                _open_run_report({**data, "timed_out": True}, as_json,
                                 f"workflow {wid} is still {status} after {shown_timeout or timeout:g} s")  # fmt: skip
            time.sleep(RESULT_POLL_SECONDS)
    finally:
        store.close()


def _open_run_report(data: dict[str, Any], as_json: bool, text: str) -> NoReturn:
    if as_json:
        print_json(data)
    else:
        report_error(text, label="not finished")
    raise typer.Exit(2)


def emit_outcome(pid: str, value: Any, failure: Failure | None, as_json: bool) -> None:
    if failure is not None:
        if as_json:
            print_json({"pid": pid, "error": failure.to_json()})
        else:
            error_line(failure.kind or "error", failure.message)
        raise typer.Exit(1)
    if as_json:
        print_json({"pid": pid, "result": value})
    else:
        out_console.print_json(json.dumps(to_plain(value)))


def _open_pid(ctx: Ctx, ident: str) -> tuple[str, dict[str, Any]]:
    store = open_store(ctx)
    try:
        row = _latest(store, find_row(store, ident))
    finally:
        store.close()
    return summary_of(row).pid, row


def _change(ctx: Ctx, kind: str, body: dict[str, Any], action: Any, timeout: float | None, what: str,
            as_json: bool) -> Outcome:  # fmt: skip
    outcome = apply(ctx, kind, body, action, timeout=REQUEST_TIMEOUT if timeout is None else timeout, what=what)
    if outcome.state != "done":
        _not_applied(outcome, what, {"pid": body["pid"]}, as_json)
    return outcome


def signal(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    topic: Annotated[str, typer.Argument(help="Signal topic, e.g. approve.")],
    payload: Annotated[str | None, typer.Argument(help="Payload as JSON.")] = None,
    timeout: TimeoutOpt = None,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    engine: EngineOpt = "embedded",
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a message to a workflow's inbox (process.send); `sent` means it was delivered."""
    use_json(as_json)
    ctx = Ctx(directory, db)
    payloads = [] if payload is None else [parse_json_arg(payload, "the payload")]
    if on_temporal(engine):
        summary, sent = temporal_cmd.change(ctx, Server(address, namespace), ident,
                                            lambda e, pid: e.signal(pid, topic, payloads))  # fmt: skip
        if not sent:
            fail(f"workflow {summary.workflow_id} is not running (status {summary.status})", kind="NotFound")
        _emit({"pid": summary.pid, "topic": topic, "sent": True}, as_json, f"sent {topic} to {summary.pid}")
        return
    pid, row = _open_pid(ctx, ident)
    if row["status"] in CLOSED:
        fail(f"workflow {row['workflow_id']} is not running (status {row['status']})", kind="NotFound")
    body = {"pid": pid, "topic": topic, "payloads": payloads}
    what = f"signal {topic!r} to {pid}"
    _change(ctx, "signal", body, lambda engine: engine.signal(pid, topic, payloads), timeout, what, as_json)
    _emit({"pid": pid, "topic": topic, "sent": True}, as_json, f"sent {topic} to {pid}")


def terminate(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the run).")] = "terminated from the CLI",
    timeout: TimeoutOpt = None,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    engine: EngineOpt = "embedded",
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stop a run at once (no Lua code runs)."""
    use_json(as_json)
    ctx = Ctx(directory, db)
    if on_temporal(engine):
        summary, done = temporal_cmd.change(ctx, Server(address, namespace), ident,
                                            lambda e, pid: e.terminate(pid, reason))  # fmt: skip
        if not done:
            _emit({"pid": summary.pid, "terminated": False, "status": summary.status}, as_json,
                  f"{summary.pid} is already {summary.status}")  # fmt: skip
            return
        _emit({"pid": summary.pid, "terminated": True}, as_json, f"terminated {summary.pid}")
        return
    pid, row = _open_pid(ctx, ident)
    if row["status"] in CLOSED:
        _emit({"pid": pid, "terminated": False, "status": row["status"]}, as_json,
              f"{pid} is already {row['status']}")  # fmt: skip
        return
    body = {"pid": pid, "reason": reason}
    what = f"termination of {pid}"
    outcome = _change(ctx, "terminate", body, lambda engine: engine.terminate(pid, reason), timeout, what, as_json)
    note = str(outcome.data.get("note", ""))
    _emit({"pid": pid, "terminated": not note, **({"note": note} if note else {})}, as_json,
          f"{pid} was {note}" if note else f"terminated {pid}")  # fmt: skip


def cancel(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    timeout: TimeoutOpt = None,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    engine: EngineOpt = "embedded",
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask a run to cancel (it receives a pid.cancel event)."""
    use_json(as_json)
    ctx = Ctx(directory, db)
    if on_temporal(engine):
        summary, done = temporal_cmd.change(ctx, Server(address, namespace), ident, lambda e, pid: e.cancel(pid))
        if not done:
            _emit({"pid": summary.pid, "cancel_requested": False, "status": summary.status}, as_json,
                  f"{summary.pid} is already {summary.status}")  # fmt: skip
            return
        _emit({"pid": summary.pid, "cancel_requested": True}, as_json, f"cancel requested for {summary.pid}")
        return
    pid, row = _open_pid(ctx, ident)
    if row["status"] in CLOSED:
        _emit({"pid": pid, "cancel_requested": False, "status": row["status"]}, as_json,
              f"{pid} is already {row['status']}")  # fmt: skip
        return
    outcome = _change(ctx, "cancel", {"pid": pid}, lambda engine: engine.cancel(pid), timeout,
                      f"cancellation of {pid}", as_json)  # fmt: skip
    note = str(outcome.data.get("note", ""))
    _emit({"pid": pid, "cancel_requested": not note, **({"note": note} if note else {})}, as_json,
          f"{pid} was {note}" if note else f"cancel requested for {pid}")  # fmt: skip


# Registered in this order, which `duralua workflow --help` shows.
app.command()(start)
app.command("list")(workflow_show.list_cmd)
app.command()(workflow_show.describe)
app.command()(workflow_show.history)
app.command()(result)
app.command()(signal)
app.command()(terminate)
app.command()(cancel)
app.command()(workflow_show.replay)
app.command()(db_cmd.prune)

# `workflow update` and `workflow query` live in their own module.
from . import update_cmd  # noqa: E402

update_cmd.register(app)
