"""Storage life cycle of the embedded engine: retention of closed runs, pruning, backups.

Closed runs (completed, failed, terminated, canceled, continued, timed out) are kept for a
retention period after they closed, then deleted with their history, updates and leftovers.
Open runs (running, held) are never touched, whatever their age.

The period is, from the most specific: the ``meta.retention`` of the run's
``temporal.worker`` entry; the app's (``App(retention=...)``, ``duralua run --retention``);
:data:`DEFAULT_RETENTION` (7 days). ``"forever"`` (or ``0``) keeps closed runs for good.

Everything here is plain SQL over a :class:`~duralua.embedded.store.Store` or a path: the
engine runs :func:`prune_statements` in its own group commit every :data:`PRUNE_EVERY_NS` of
its clock (so on a virtual clock too), ``duralua workflow prune`` runs :func:`prune` directly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..durations import DurationError, humanize_ns, parse_option
from ..errors import ConfigError, EngineError, Location
from .queries import CLOSED

if TYPE_CHECKING:
    from ..catalog import Catalog
    from .store import Store

DAY_NS = 24 * 3600 * 1_000_000_000
DEFAULT_RETENTION = "7d"
DEFAULT_RETENTION_NS = 7 * DAY_NS
# How often (on the engine's clock) the engine looks for expired runs.
PRUNE_EVERY_NS = 60 * 1_000_000_000
# Runs deleted per pass: one pass is one group commit, which must stay short.
BATCH = 500

_CLOSED_SQL = "(" + ", ".join(f"'{s}'" for s in CLOSED) + ")"
# Tables keyed by run_id that hold a run's data besides its row in ``runs``.
_RUN_TABLES = ("history", "updates", "inputs", "timers", "tasks")


def parse_retention(value: Any, what: str = "retention") -> int | None:
    """Nanoseconds to keep a closed run, or None for ``forever``/``0`` (keep for good).

    Accepts Go durations (``"72h"``), days (``"7d"``), or a number of milliseconds."""
    if value is None:
        raise ConfigError(f"{what} must be a duration such as 7d or 72h, or forever")
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("forever", "never", "0", "off"):
            return None
        if text.endswith("d") and text[:-1].replace(".", "", 1).isdigit():
            ns = int(float(text[:-1]) * DAY_NS)
            return ns if ns > 0 else None
    try:
        ns = parse_option(value)
    except DurationError as exc:
        raise ConfigError(f"{what}: {exc} (e.g. 7d, 72h, or forever)") from None
    if ns < 0:
        raise ConfigError(f"{what} must not be negative, got {value!r}")
    return ns or None


def describe_retention(ns: int | None) -> str:
    return "forever" if ns is None else humanize_ns(ns)


@dataclass
class RetentionPolicy:
    """How long closed runs are kept: ``default_ns`` for every worker not in ``by_worker``
    (None: for good)."""

    default_ns: int | None = DEFAULT_RETENTION_NS
    by_worker: dict[str, int | None] = field(default_factory=dict)

    @classmethod
    def of(cls, catalog: Catalog | None, app_default: Any = None) -> RetentionPolicy:
        """The app's policy: ``app_default`` (a duration, ``forever``, or None for the
        built-in 7 days) and each worker entry's ``meta.retention``."""
        default = DEFAULT_RETENTION_NS if app_default is None else parse_retention(app_default)
        policy = cls(default)
        if catalog is None:
            return policy
        for worker_id in catalog.workers:
            entry = catalog.registry.entries.get(worker_id)
            raw = entry.meta.get("retention") if entry is not None else None
            if raw is None:
                continue
            try:
                policy.by_worker[worker_id] = parse_retention(raw, "meta.retention")
            except ConfigError as exc:
                raise ConfigError(exc.message, location=entry.location_of("meta") if entry else Location()) from None
        return policy

    def where(self, now_ns: int) -> tuple[str, list[Any]]:
        """A SQL condition (over ``runs``) true for the closed runs past their retention."""
        clauses: list[str] = []
        params: list[Any] = []
        for worker, ns in sorted(self.by_worker.items()):
            if ns is not None:
                clauses.append("(worker_id = ? AND close_ns < ?)")
                params += [worker, now_ns - ns]
        if self.default_ns is not None:
            if self.by_worker:
                marks = ", ".join("?" for _ in self.by_worker)
                clauses.append(f"(worker_id NOT IN ({marks}) AND close_ns < ?)")
                params += [*sorted(self.by_worker), now_ns - self.default_ns]
            else:
                clauses.append("close_ns < ?")
                params.append(now_ns - self.default_ns)
        if not clauses:
            return "0", []
        return f"status IN {_CLOSED_SQL} AND close_ns IS NOT NULL AND ({' OR '.join(clauses)})", params


def prune_statements(where: str, params: Iterable[Any], limit: int = BATCH) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements that delete (at most ``limit``) runs matching ``where`` with all their
    data. They must run in one transaction, in order: each selects the same runs (the
    oldest first), and ``runs`` goes last."""
    args = tuple(params)
    chosen = f"SELECT run_id FROM runs WHERE {where} ORDER BY close_ns, run_id LIMIT {int(limit)}"
    out = [(f"DELETE FROM {table} WHERE run_id IN ({chosen})", args) for table in _RUN_TABLES]
    out.append((f"DELETE FROM runs WHERE run_id IN ({chosen})", args))
    return out


def engine_prune_statements(policy: RetentionPolicy, now_ns: int) -> list[tuple[str, tuple[Any, ...]]]:
    """What an engine adds to a group commit to prune the runs past ``policy`` at ``now_ns``
    (nothing if no retention applies)."""
    where, params = policy.where(now_ns)
    if where == "0":
        return []
    return prune_statements(where, params)


@dataclass
class PruneReport:
    runs: int
    workflow_ids: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"pruned": self.runs, "workflow_ids": self.workflow_ids}


def expired(store: Store, where: str, params: Iterable[Any]) -> list[tuple[str, str]]:
    """(run_id, workflow_id) of the runs matching ``where``, oldest first."""
    rows = store.db.execute(f"SELECT run_id, workflow_id FROM runs WHERE {where} ORDER BY close_ns, run_id",
                            tuple(params)).fetchall()  # fmt: skip
    return [(str(r[0]), str(r[1])) for r in rows]


def prune(store: Store, where: str, params: Iterable[Any], *, dry_run: bool = False) -> PruneReport:
    """Delete the closed runs matching ``where`` (see :meth:`RetentionPolicy.where`), in
    batches of :data:`BATCH` runs per transaction."""
    args = list(params)
    found = expired(store, where, args)
    if dry_run or not found:
        return PruneReport(len(found), sorted({w for _, w in found}))
    deleted = 0
    while deleted < len(found):
        with store.transaction() as db:
            for sql, p in prune_statements(where, args):
                db.execute(sql, p)
        deleted += BATCH
    return PruneReport(len(found), sorted({w for _, w in found}))


def older_than(ns: int, now_ns: int) -> tuple[str, list[Any]]:
    """The condition for closed runs that closed more than ``ns`` before ``now_ns``."""
    return f"status IN {_CLOSED_SQL} AND close_ns IS NOT NULL AND close_ns < ?", [now_ns - ns]


# -- backups ------------------------------------------------------------------------------------


def backup(db: str | Path, dest: str | Path, *, pages: int = 1024) -> int:
    """Copy the database at ``db`` to ``dest`` with SQLite's online backup API; returns the
    size of the copy in bytes.

    Safe while an engine serves ``db``: the copy is a consistent snapshot of committed
    transactions (a commit made during the copy restarts it from that point), and the
    engine is never blocked for more than one step of ``pages`` pages. ``dest`` must not
    exist (a backup never overwrites a file).
    """
    src_path, dest_path = Path(db), Path(dest)
    if not src_path.is_file():
        raise EngineError(f"no database at {src_path}", hint="check --db")
    if dest_path.exists():
        raise EngineError(f"{dest_path} already exists", hint="a backup never overwrites a file: pick a new name")
    if not dest_path.parent.is_dir():
        raise EngineError(f"the directory of {dest_path} does not exist", hint="create it first")
    uri = src_path.resolve().as_uri() + "?mode=ro"
    source = sqlite3.connect(uri, uri=True, timeout=10.0)
    target: sqlite3.Connection | None = None
    try:
        source.execute("PRAGMA busy_timeout=10000")
        target = sqlite3.connect(str(dest_path))
        source.backup(target, pages=pages)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        problem = target.execute("PRAGMA quick_check").fetchone()[0]
        if problem != "ok":
            raise EngineError(f"the backup {dest_path} failed its integrity check: {problem}")
    except sqlite3.Error as exc:
        if target is not None:
            target.close()
            target = None
        dest_path.unlink(missing_ok=True)
        raise EngineError(f"cannot back up {src_path} to {dest_path}: {exc}") from None
    finally:
        source.close()
        if target is not None:
            target.close()
    return dest_path.stat().st_size


def counts(store: Store) -> Mapping[str, int]:
    """Rows per table (``duralua db backup`` reports what it copied)."""
    out: dict[str, int] = {}
    for table in ("runs", "history"):
        out[table] = int(store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    return out
