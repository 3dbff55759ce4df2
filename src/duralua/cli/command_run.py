"""``duralua run <name> [args…]``: CLI commands of an app (spec runtime-modules.md §9).

A command is a ``process.*`` entry with a non-empty ``meta.command.name``. ``duralua run NAME``
boots the whole app (engine, process hosts, services, HTTP), starts the command on the app's
``terminal.host`` with each argument as one string argument of its method (also returned by
``io.args()``), and exits when it ends: an error prints on stderr and exits 1; a string prints
on stdout; a number is the exit code; ``true``/``false`` are 0/1; anything else is 0.
``duralua run --list`` lists the commands, ``duralua run -x ns:entry`` runs any process entry.

The first positional argument of ``duralua run`` stays the app directory when it names one;
otherwise it is a command name (the app is then ``--dir`` or the current directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..codec import JSONValue
from ..errors import Failure
from .common import fail, print_json, say

if TYPE_CHECKING:
    from ..app import App
    from ..registry import Entry, Registry

RESERVED = "list"

# The options `duralua run` adds for commands (cli/main.py).
RestArg = Annotated[list[str] | None, typer.Argument(help="A command name and its arguments (`duralua run greet ada`).",
                                                     metavar="[COMMAND [ARGS]...]", show_default=False)]  # fmt: skip
ListOpt = Annotated[bool, typer.Option("--list", help="List the app's commands (meta.command).")]
ExecOpt = Annotated[str | None, typer.Option("--exec", "-x", help="Run this process entry (ns:entry) as a command.",
                                             show_default=False)]  # fmt: skip
HostOpt = Annotated[str | None, typer.Option(help="The terminal.host to run a command on (when there are several).",
                                             show_default=False)]  # fmt: skip
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="With a command: show the runtime's log lines.")]


def commands(registry: Registry) -> list[Entry]:
    """Command entries in registry order."""
    out = []
    for entry in registry.entries.values():
        if not entry.kind.startswith("process.") or entry.kind in ("process.host", "process.service"):
            continue
        command = entry.meta.get("command")
        if isinstance(command, dict) and isinstance(command.get("name"), str) and command["name"]:
            out.append(entry)
    return out


def command_name(entry: Entry) -> str:
    return str(entry.meta["command"]["name"])


def is_command_invocation(
    positional: Path | None, rest: list[str] | None, listing: bool, exec_entry: str | None
) -> bool:
    if listing or exec_entry is not None or rest:
        return True
    return positional is not None and not positional.is_dir()


def split_arguments(positional: Path | None, rest: list[str] | None, dir_option: Path | None,
                    exec_entry: str | None) -> tuple[Path, str | None, list[str]]:  # fmt: skip
    """(app directory, command name or None, command arguments) from ``run``'s positionals."""
    words = list(rest or [])
    directory = dir_option
    if positional is not None:
        if positional.is_dir() and dir_option is None:
            directory = positional
        else:
            words.insert(0, str(positional))
    directory = directory or Path(".")
    if exec_entry is not None:
        return directory, None, words
    if not words:
        return directory, None, []
    return directory, words[0], words[1:]


def terminal_host(registry: Registry, wanted: str | None) -> str:
    hosts = [e.id for e in registry.entries.values() if e.kind == "terminal.host"]
    if wanted is not None:
        if wanted not in hosts:
            fail(f"--host {wanted} is not a terminal.host of this app",
                 hint=f"terminal hosts: {', '.join(hosts) or 'none'}")  # fmt: skip
        return wanted
    if not hosts:
        fail("no terminal.host found in registry", hint="add an entry of kind terminal.host to run commands")
    if len(hosts) > 1:
        fail(f"multiple terminal hosts found ({', '.join(hosts)}), use --host to specify")
    return hosts[0]


def print_list(registry: Registry, as_json: bool) -> None:
    found = commands(registry)
    if as_json:
        print_json([{"name": command_name(e), "entry": e.id, "short": e.meta["command"].get("short") or ""}
                    for e in found])  # fmt: skip
        return
    if not found:
        say("no commands in this app (a command is a process.lua entry with meta.command.name)")
        return
    width = max(len(command_name(e)) for e in found)
    for e in found:
        short = e.meta["command"].get("short") or ""
        say((command_name(e).ljust(width), "bold"), f"  {e.id}", (f"  {short}" if short else "", "dim"))


def exit_code(value: JSONValue, failure: Failure | None) -> int:
    """The process outcome as an exit status (and what it prints), per the spec's table."""
    if failure is not None:
        sys.stderr.write(f"{failure.message}\n")
        sys.stderr.flush()
        return 1
    if isinstance(value, bool):
        return 0 if value else 1
    if isinstance(value, str):
        sys.stdout.write(value + "\n")
        sys.stdout.flush()
        return 0
    if isinstance(value, (int, float)):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return 1
        return int(value)
    return 0


@contextlib.asynccontextmanager
async def booted(app: App, *, engine: str, db: Path | None, synchronous: str = "FULL", http: bool = True,
                 control: Path | None = None, notify: Any = None) -> AsyncIterator[None]:  # fmt: skip
    """The whole app served: engine, process hosts and services, HTTP (what commands and tests
    run inside). ``db`` None: a throw-away database."""
    tmp: tempfile.TemporaryDirectory[str] | None = None
    try:
        if engine == "temporal":
            from ..temporal.worker import TemporalHost

            async with TemporalHost(app, notify=notify), app.serve_runtime(control=control, notify=notify), \
                    _http(app, http):  # fmt: skip
                yield
            return
        if db is None:
            tmp = tempfile.TemporaryDirectory(prefix="duralua-")
            db = Path(tmp.name) / "duralua.db"
        async with app.engine(db, synchronous=synchronous), app.serve_runtime(control=control, notify=notify), \
                _http(app, http):  # fmt: skip
            yield
    finally:
        if tmp is not None:
            tmp.cleanup()


@contextlib.asynccontextmanager
async def _http(app: App, on: bool) -> AsyncIterator[None]:
    if not on or not any(e.kind == "http.service" for e in app.registry.entries.values()):
        yield
        return
    async with app.http_services():
        yield


async def run_on_terminal(app: App, entry_id: str, args: list[str], host_id: str) -> tuple[JSONValue, Failure | None]:
    """Start ``entry_id`` on the terminal host and wait for it to end."""
    from ..runtime.modules import Terminal

    host = app.runtime.hosts[host_id]
    for _ in range(100):  # the host must be running within 5 s
        if host.running:
            break
        await asyncio.sleep(0.05)
    child, failure = host.spawn(entry_id, list(args), {}, terminal=Terminal(args=list(args)))
    if failure is not None or child is None:
        return None, failure or Failure(f"{entry_id} could not be started", "Internal", False)
    done = asyncio.Event()
    child.on_exit(lambda _c: done.set())
    await done.wait()
    return child.result, child.failure


def run_command(app: App, *, name: str | None, exec_entry: str | None, args: list[str], host: str | None,
                engine: str, db: Path | None, synchronous: str, control: Path | None) -> None:  # fmt: skip
    """Resolve and run one command; exits the program with its status."""
    registry = app.registry
    if exec_entry is not None:
        if ":" not in exec_entry:
            fail(f"-x {exec_entry}: namespace:entry required")
        entry = registry.entries.get(exec_entry)
        if entry is None or entry.kind != "process.lua":
            fail(f"-x {exec_entry}: no process.lua entry {exec_entry}")
        entry_id = exec_entry
    else:
        assert name is not None
        if name.endswith(".wapp") or (name.count("/") == 1 and not name.startswith((".", "/"))):
            fail(f"{name}: packs and hub modules are not supported by duralua")
        found = [e for e in commands(registry) if command_name(e) == name]
        if not found:
            fail(f"command \"{name}\" not found. Use 'duralua run --list' to see available commands")
        entry_id = found[0].id
    host_id = terminal_host(registry, host)
    code = asyncio.run(_serve_command(app, entry_id, args, host_id, engine=engine, db=db, synchronous=synchronous,
                                      control=control))  # fmt: skip
    raise typer.Exit(code)


async def _serve_command(app: App, entry_id: str, args: list[str], host_id: str, **boot: Any) -> int:
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[int] = []

    def on_signal(sig: int) -> None:
        received.append(sig)
        if task is not None:
            task.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
    try:
        async with booted(app, **boot):
            value, failure = await run_on_terminal(app, entry_id, args, host_id)
        return exit_code(value, failure)
    except asyncio.CancelledError:
        if received:
            return 128 + received[0]
        raise
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        sys.stdout.flush()


def dispatch(positional: Path | None, rest: list[str] | None, dir_option: Path | None, *, listing: bool,
             exec_entry: str | None, host: str | None, engine: str, address: str | None, namespace: str | None,
             db: Path | None, synchronous: str, verbose: bool, as_json: bool) -> None:  # fmt: skip
    """``duralua run`` with a command (or --list / -x): never returns."""
    from ..app import App, stderr_log
    from .common import Ctx, on_temporal

    directory, name, args = split_arguments(positional, rest, dir_option, exec_entry)
    if name == RESERVED and exec_entry is None:
        listing = True
    ctx = Ctx(directory, db=db)
    if listing:
        print_list(ctx.registry(), as_json)
        raise typer.Exit(0)
    # Command mode keeps the runtime's log lines off the console unless asked (-v).
    app = App(ctx.root, log=stderr_log if verbose else None)
    temporal = on_temporal(engine)
    if temporal:
        from . import temporal_cmd

        temporal_cmd.require_temporal()
        temporal_cmd.Server(address, namespace).apply_to(app.registry)
    run_command(app, name=name, exec_entry=exec_entry, args=args, host=host,
                engine="temporal" if temporal else "embedded", db=ctx.db_path(), synchronous=synchronous,
                control=ctx.db_path())  # fmt: skip
