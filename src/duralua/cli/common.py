"""Shared CLI plumbing: consoles, JSON output, app/database location, clean failures."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console

from ..codec import to_plain

if TYPE_CHECKING:
    from ..app import App
    from ..registry import Registry

out_console = Console()
err_console = Console(stderr=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_plain(value), indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def fail(message: str, *, hint: str = "", code: int = 1) -> NoReturn:
    err_console.print(f"[red]error[/red]: {message}", highlight=False)
    if hint:
        err_console.print(f"[dim]hint: {hint}[/dim]", highlight=False)
    raise typer.Exit(code)


class Ctx:
    """Where the app and its database are, loaded lazily."""

    def __init__(self, directory: Path, db: Path | None = None) -> None:
        if not directory.exists():
            fail(f"app directory {directory} does not exist", hint="pass the directory that holds wippy.lock")
        self.root = directory
        self._db = db
        self._app: App | None = None

    def registry(self) -> Registry:
        return self.app().registry

    def app(self) -> App:
        if self._app is None:
            from ..app import App

            self._app = App(self.root)
        return self._app

    def db_path(self) -> Path:
        return self._db if self._db is not None else self.root / ".duralua" / "duralua.db"
