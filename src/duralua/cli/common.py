"""Shared CLI plumbing: consoles, JSON output, app/database location, clean failures.

User and run data (ids, messages, results, file names) are never parsed as Rich markup:
they go into :class:`rich.text.Text` objects, styles are applied around them. Errors are one
line each (the error console does not hard-wrap), so scripts can match them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from ..codec import MAX_DEPTH, check_value, to_plain
from ..errors import EncodeError

if TYPE_CHECKING:
    from ..app import App
    from ..registry import Registry

out_console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
ENGINES = ("embedded", "temporal")

DirOpt = Annotated[Path, typer.Option("--dir", "-d", help="App directory (with wippy.lock, or the src tree).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
EngineOpt = Annotated[
    str,
    typer.Option("--engine", envvar="DURALUA_ENGINE", show_envvar=False,
                 help="embedded (the SQLite database) or temporal (the server of the app's temporal.client entry)."),
]  # fmt: skip
AddressOpt = Annotated[
    str | None,
    typer.Option("--address", envvar="TEMPORAL_ADDRESS", show_envvar=False,
                 help="With --engine temporal: the server's host:port (default: the client entry's address; "
                 "env TEMPORAL_ADDRESS)."),
]  # fmt: skip
NamespaceOpt = Annotated[
    str | None,
    typer.Option("--namespace", envvar="TEMPORAL_NAMESPACE", show_envvar=False,
                 help="With --engine temporal: the namespace (default: the client entry's; env TEMPORAL_NAMESPACE)."),
]  # fmt: skip


def on_temporal(engine: str) -> bool:
    """True for ``--engine temporal``; a one-line error for an engine that does not exist."""
    if engine not in ENGINES:
        fail(f"unknown engine {engine!r}", hint="use --engine embedded or --engine temporal")
    return engine == "temporal"


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_plain(value), indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line from plain strings and ``(text, style)`` pairs; no part is read as markup."""
    return Text.assemble(*parts)


def say(*parts: str | tuple[str, str]) -> None:
    out_console.print(styled(*parts), soft_wrap=True)


def warn(*parts: str | tuple[str, str]) -> None:
    err_console.print(styled(*parts))


def error_line(label: str, message: str, *, style: str = "red") -> None:
    """``label: message`` on stderr, e.g. ``Conflict: failed with Conflict``."""
    err_console.print(styled((label, style), ": ", message))


class _Mode:
    json = False


def use_json(on: bool) -> None:
    """Errors of this command go to stdout as JSON (``--json``), like its results."""
    _Mode.json = on


def json_errors() -> bool:
    return _Mode.json


def report_error(message: str, *, kind: str = "", hint: str = "", label: str = "error") -> None:
    """One error: ``{"error": {...}}`` on stdout with ``--json``, else one line on stderr."""
    if _Mode.json:
        error: dict[str, Any] = {"message": message}
        if kind:
            error["kind"] = kind
        if hint:
            error["hint"] = hint
        print_json({"error": error})
        return
    error_line(label, message)
    if hint:
        err_console.print(styled(("hint: " + hint, "dim")))


def fail(message: str, *, hint: str = "", code: int = 1, kind: str = "") -> NoReturn:
    report_error(message, kind=kind, hint=hint)
    raise typer.Exit(code)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json_arg(text: str, what: str) -> Any:
    """Parse a JSON command-line value, or fail with one line naming ``what`` and the problem."""
    hint = "quote strings as JSON, e.g. '\"hello\"' or '{\"id\": 1}'"
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        fail(f"{what} is nested too deeply (the limit is {MAX_DEPTH} levels)")
    except json.JSONDecodeError as exc:
        fail(f"{what} is not valid JSON ({exc.msg} at character {exc.pos}): {_clip(text)!r}", hint=hint)
    except ValueError as exc:  # NaN/Infinity, or an integer longer than Python parses (4,300 digits)
        if "digits" in str(exc):
            fail(f"{what} has an integer of thousands of digits, outside the 64-bit range of Lua integers "
                 "(pass it as a string)")  # fmt: skip
        fail(f"{what} is not valid JSON ({exc})", hint=hint)
    try:
        check_value(value, what)
    except EncodeError as exc:
        fail(str(exc))
    return value


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class Ctx:
    """Where the app and its database are, loaded lazily."""

    def __init__(self, directory: Path, db: Path | None = None, *, retention: str | None = None) -> None:
        if not directory.exists():
            fail(f"app directory {directory} does not exist", hint="pass the directory that holds wippy.lock")
        if not directory.is_dir():
            fail(f"{directory} is not a directory", hint="pass the directory that holds wippy.lock")
        if db is not None and db.is_dir():
            fail(f"--db {db} is a directory", hint="pass the database file, e.g. --db app.db")
        self.root = directory
        self._db = db
        self._retention = retention
        self._app: App | None = None

    def registry(self) -> Registry:
        return self.app().registry

    def app(self) -> App:
        if self._app is None:
            from ..app import App
            from ..registry import is_app_dir

            if not is_app_dir(self.root):
                # Loading would scan every file below (a home directory, /tmp) for definitions.
                fail(f"{self.root} is not an app: it has no wippy.lock and no definition files at its top level",
                     hint="run the command in the app's directory, or pass it with --dir")  # fmt: skip

            self._app = App(self.root, retention=self._retention)
        return self._app

    def db_path(self) -> Path:
        return self._db if self._db is not None else self.root / ".duralua" / "duralua.db"


def check_synchronous(value: str) -> str:
    """The SQLite ``synchronous`` mode, upper-cased, or a one-line error (it ends up in a PRAGMA)."""
    mode = value.strip().upper()
    if mode not in SYNCHRONOUS_MODES:
        fail(f"--synchronous must be one of {', '.join(SYNCHRONOUS_MODES)} (any case), not {value!r}",
             hint="FULL survives power loss; NORMAL is faster and may lose the last commits on power loss")  # fmt: skip
    return mode
