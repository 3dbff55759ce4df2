"""``duralua workflow prune`` and ``duralua db backup``: the database's life cycle.

Both work with or without a ``duralua run`` serving the database: pruning deletes only closed
runs (the engine never touches them again), in short transactions; a backup reads through
SQLite's online backup API, which copies a consistent snapshot while the engine writes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from ..embedded import retention
from ..embedded.store import Store
from ..errors import ConfigError
from . import temporal_cmd
from .common import Ctx, DirOpt, EngineOpt, JsonOpt, fail, on_temporal, print_json, say, use_json
from .workflow_show import DbOpt

app = typer.Typer(help="Look after the embedded engine's database (backups).", no_args_is_help=True)


def prune(
    older_than: Annotated[
        str | None,
        typer.Option(
            help="Prune closed runs that closed longer ago than this (e.g. 30d, 12h). "
            "Default: the app's retention (7 days, or meta.retention of the run's worker)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be pruned.")] = False,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    engine: EngineOpt = "embedded",
    as_json: JsonOpt = False,
) -> None:
    """Delete closed runs past their retention, with their history (open runs are kept).

    A `duralua run` does the same by itself every minute; this command is for a database
    no engine serves, or to prune with another period.
    """
    use_json(as_json)
    if on_temporal(engine):
        temporal_cmd.no_prune()
    ctx = Ctx(directory, db)
    path = ctx.db_path()
    if not path.exists():
        fail(f"no database at {path}", hint="check --db")
    now = time.time_ns()
    try:
        if older_than is not None:
            ns = retention.parse_retention(older_than, "--older-than")
            if ns is None:
                fail("--older-than forever prunes nothing", hint="give a duration such as 30d")
            where, params = retention.older_than(ns, now)
        else:
            where, params = ctx.app().retention.where(now)
    except ConfigError as exc:
        fail(exc.message)
    store = Store(path, readonly=dry_run)
    try:
        report = retention.prune(store, where, params, dry_run=dry_run)
    finally:
        store.close()
    if as_json:
        print_json({**report.to_json(), "dry_run": dry_run})
        return
    verb = "would prune" if dry_run else "pruned"
    ids = ", ".join(report.workflow_ids[:10]) + (" …" if len(report.workflow_ids) > 10 else "")
    say(f"{verb} {report.runs} closed run(s)" + (f": {ids}" if ids else ""))


@app.command()
def backup(
    dest: Annotated[Path, typer.Argument(help="Where to write the copy (must not exist).", metavar="PATH")],
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Copy the database to PATH with SQLite's online backup (safe while `duralua run` serves it).

    To restore: stop `duralua run`, replace the database file with the copy (delete its old
    -wal and -shm files), start `duralua run` again.
    """
    use_json(as_json)
    ctx = Ctx(directory, db)
    src = ctx.db_path()
    size = retention.backup(src, dest)
    store = Store(dest, readonly=True)
    try:
        rows = retention.counts(store)
    finally:
        store.close()
    if as_json:
        print_json({"backup": str(dest), "bytes": size, **rows})
        return
    say(f"backed up {src} to {dest}: {rows['runs']} run(s), {rows['history']} history record(s), {size} bytes")
