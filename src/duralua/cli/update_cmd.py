"""``duralua workflow update`` and ``duralua workflow query`` (spec workflows.md §7.5, §7.6).

An update is durable: it is admitted in one commit (its message joins the run's history and a
row of the ``updates`` table records it), and the run's ``ok``/``error``/``nak`` reply is
committed with the step that made it. With a ``duralua run`` serving the database the command
queues the update there and reads its outcome from the database; otherwise it runs the engine
in this process until the workflow answers (or ``--timeout`` passes: the update stays admitted
and ``duralua workflow update`` with the same ``--update-id`` waits for it again).

A query reads the answer the run's last committed step left (``pid``, ``state``, or a name the
workflow set with ``workflow.set_query``); it needs no engine.

Exit status: 0 answered ``ok``; 1 refused (``nak``), failed (``error``, the run closed first) or
not admitted; 2 no answer within the wait.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from ..codec import JSONValue, to_plain
from ..embedded.control import query_row, update_outcome_of
from ..embedded.owner import OwnerLock
from ..embedded.queries import CLOSED, summary_of
from ..embedded.store import Store
from ..errors import CallError, EngineError, Failure
from . import temporal_cmd
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
    parse_json_arg,
    print_json,
    use_json,
)
from .temporal_cmd import Server

POLL_SECONDS = 0.05
DEFAULT_WAIT = 30.0

DbOpt = Annotated[Path | None, typer.Option("--db", help="Database file (default .duralua/duralua.db).")]


def _args(text: str | None) -> list[JSONValue]:
    if text is None:
        return []
    # The shared parser also refuses nesting past the codec's limit and integers Lua cannot hold.
    value: JSONValue = parse_json_arg(text, "the update argument")
    return [value]


def _run_row(db: Path, ident: str) -> dict[str, Any]:
    if not db.exists():
        fail(f"no database at {db}", hint="check --db, or start a workflow first")
    store = Store(db, readonly=True)
    try:
        workflow_id = ident
        if ident.startswith("{") and "|" in ident:
            workflow_id = ident[1:-1].partition("|")[2]
        row = store.latest_run(workflow_id)
    finally:
        store.close()
    if row is None:
        fail(f"no workflow with id {workflow_id}", hint="`duralua workflow list` shows the known runs")
    return row


def _serving(db: Path) -> bool:
    return db.exists() and OwnerLock(db).held_elsewhere()


def _through_engine(db: Path, pid: str, name: str, args: list[JSONValue], update_id: str,
                    wait: float) -> tuple[JSONValue, Failure | None] | None:  # fmt: skip
    """Queue the update for the serving engine and poll its row until it is answered."""
    store = Store(db)
    try:
        with store.transaction() as conn:
            request = Store.add_request(conn, "update", {"pid": pid, "name": name, "payloads": args,
                                                         "update_id": update_id}, time.time_ns())  # fmt: skip
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            state = store.request_outcome(request)
            if state is not None and state[0] == "failed":
                return None, Failure(str(state[1].get("error", "the engine refused the update")),
                                     str(state[1].get("kind", "")), False)  # fmt: skip
            found = update_outcome_of(store.update_row(update_id))
            if found is not None:
                return found
            time.sleep(POLL_SECONDS)
    finally:
        store.close()
    return None


def _here(ctx: Ctx, pid: str, name: str, args: list[JSONValue], update_id: str,
          wait: float) -> tuple[JSONValue, Failure | None] | None:  # fmt: skip
    """Run the engine in this process until the workflow answers the update."""

    async def run() -> tuple[JSONValue, Failure | None] | None:
        async with ctx.app().engine(ctx.db_path()) as wf:
            try:
                return await asyncio.wait_for(wf.engine.update(pid, name, args, update_id=update_id), wait)
            except TimeoutError:
                return None

    return asyncio.run(run())


def update(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    name: Annotated[str, typer.Argument(help="Update name: the topic the workflow reads, e.g. increment.")],
    arg: Annotated[str | None, typer.Argument(help="The update's argument as JSON.")] = None,
    update_id: Annotated[
        str | None,
        typer.Option("--update-id", help="Update id (default: generated); the same id asks for the same update again."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.", min=0)] = DEFAULT_WAIT,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    engine: EngineOpt = "embedded",
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send an update and print the workflow's answer (ok result, or the nak/error message)."""
    use_json(as_json)
    ctx = Ctx(directory, db)
    args = _args(arg)
    uid = update_id or str(uuid.uuid4())
    if on_temporal(engine):
        summary, found = temporal_cmd.update(ctx, Server(address, namespace), ident, name, args, uid, timeout)
        _answer(summary.pid, uid, name, found, timeout, as_json)
        return
    row = _run_row(ctx.db_path(), ident)
    pid = summary_of(row).pid
    if row["status"] in CLOSED:
        fail(f"workflow {row['workflow_id']} is not running (status {row['status']})")
    try:
        if _serving(ctx.db_path()):
            found = _through_engine(ctx.db_path(), pid, name, args, uid, timeout)
        else:
            try:
                found = _here(ctx, pid, name, args, uid, timeout)
            except EngineError:
                if not _serving(ctx.db_path()):
                    raise
                found = _through_engine(ctx.db_path(), pid, name, args, uid, timeout)
    except CallError as exc:
        found = None, exc.failure
    _answer(pid, uid, name, found, timeout, as_json)


def _answer(pid: str, uid: str, name: str, found: tuple[JSONValue, Failure | None] | None, timeout: float,
            as_json: bool) -> None:  # fmt: skip
    if found is None:
        fail(f"update {uid} ({name}) was not answered within {timeout:g} s; it stays admitted",
             hint=f"ask again with --update-id {uid} to keep waiting", code=2)  # fmt: skip
    value, failure = found
    if as_json:
        body: dict[str, Any] = {"pid": pid, "update_id": uid, "name": name}
        body.update({"error": failure.to_json()} if failure else {"result": value})
        print_json(body)
        if failure is not None:
            raise typer.Exit(1)
        return
    if failure is not None:
        fail(f"update {name} of {pid}: {failure.message} ({failure.kind or 'error'})")
    out_console.print_json(json.dumps(to_plain(value)))


def query(
    ident: Annotated[str, typer.Argument(help="Workflow id or PID.")],
    name: Annotated[str, typer.Argument(help="pid, state, or a name the workflow set with workflow.set_query.")],
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    engine: EngineOpt = "embedded",
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print what a query of the run answers (from its last committed step)."""
    use_json(as_json)
    ctx = Ctx(directory, db)
    if on_temporal(engine):
        summary, value = temporal_cmd.query(ctx, Server(address, namespace), ident, name)
        _print_query(summary.pid, name, value, as_json)
        return
    row = _run_row(ctx.db_path(), ident)
    try:
        value = query_row(row, name)
    except CallError as exc:
        fail(exc.failure.message, hint="the built-in queries are pid and state")
    _print_query(summary_of(row).pid, name, value, as_json)


def _print_query(pid: str, name: str, value: JSONValue, as_json: bool) -> None:
    if as_json:
        print_json({"pid": pid, "query": name, "result": value})
    else:
        out_console.print_json(json.dumps(to_plain(value)))


def register(app: typer.Typer) -> None:
    app.command()(update)
    app.command()(query)


__all__ = ["query", "register", "update"]
