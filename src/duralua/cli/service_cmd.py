"""Commands that need the running app, through its control channel (``runtime/control.py``):
``duralua service list`` and ``duralua call`` against a served app."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ..codec import JSONValue
from ..errors import Failure
from ..runtime.control import ControlUnavailable, request, socket_path
from .common import Ctx, DirOpt, JsonOpt, fail, out_console, print_json

app = typer.Typer(help="Supervised services (process.service) of the running app.", no_args_is_help=True)

DbOpt = Annotated[
    Path | None, typer.Option(help="The database the app is served with (default: <app>/.duralua/duralua.db).")
]


def ask(ctx: Ctx, body: dict[str, Any], timeout: float | None = 30.0) -> dict[str, Any] | None:
    """The running app's answer, or None when no app serves this database."""
    try:
        return request(socket_path(ctx.db_path()), body, timeout)
    except ControlUnavailable:
        return None
    except TimeoutError as exc:
        fail(str(exc))
    except (OSError, ValueError) as exc:
        fail(f"the running app's control channel failed: {exc}")


def call_served(ctx: Ctx, entry: str, args: list[JSONValue]) -> tuple[bool, JSONValue, Failure | None]:
    """Run a function inside the app that ``duralua run`` serves: (served?, value, failure).
    Not served: ``(False, None, None)``, the caller runs it here."""
    answer = ask(ctx, {"op": "call", "entry": entry, "args": args}, timeout=None)
    if answer is None:
        return False, None, None
    error = answer.get("error")
    if isinstance(error, dict):
        return True, None, Failure.from_json(error)
    return True, answer.get("result"), None


def call_here(app_: Any, entry: str, args: list[JSONValue]) -> JSONValue:
    """Run a function in this process with the app's process hosts up (no services): what it
    spawns on them lives until the call returns. Raises CallError."""

    async def run() -> JSONValue:
        async with app_.serve_runtime(services=False):
            return await app_.acall(entry, *args)

    return asyncio.run(run())


@app.command("list")
def list_services(directory: DirOpt = Path("."), db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """The services of the running app, in start order, with their state."""
    ctx = Ctx(directory, db=db)
    answer = ask(ctx, {"op": "services"})
    if answer is None:
        fail(f"no running app serves {ctx.db_path()}", hint="start it with `duralua run` (services live in it)")
    rows = answer.get("services") or []
    if as_json:
        print_json(rows)
        return
    if not rows:
        out_console.print("no process.service entries")
        return
    table = Table(box=None, pad_edge=False)
    for col in ("SERVICE", "STATE", "PID", "RESTARTS", "LAST ERROR"):
        table.add_column(col)
    for row in rows:
        state = str(row.get("state", "?")) + (" (gave up)" if row.get("gave_up") else "")
        cells = (row.get("id"), state, row.get("pid") or "-", row.get("restarts", 0), row.get("last_error") or "")
        table.add_row(*(Text(str(c)) for c in cells))  # run data is never read as markup
    out_console.print(table)
