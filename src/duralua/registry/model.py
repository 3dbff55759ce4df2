"""The registry as data: entries, their lifecycle, and the table of all entries.

Entries keep their data as loaded (plain dicts/lists, ``file://`` already replaced by file
contents, relative references already rewritten to full ids) so later layers can read any
field, plus typed views for the fields they rely on.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..durations import SECOND
from ..errors import ConfigError, Location, Problem

LUA_KINDS = frozenset({"function.lua", "process.lua", "workflow.lua", "library.lua"})

# Kinds whose entry point defaults to ``main``; function.lua must name it, libraries have none.
_DEFAULT_MAIN_KINDS = frozenset({"process.lua", "workflow.lua"})

# Host-like kinds share the ``process.`` prefix but can never be activities.
_NOT_ACTIVITY_KINDS = frozenset({"process.host", "process.service"})


def parse_id(ref: str) -> tuple[str, str]:
    """Split an entry id at the first colon; no colon means an empty (relative) namespace."""
    namespace, sep, name = ref.partition(":")
    return (namespace, name) if sep else ("", ref)


def resolve_ref(ref: str, namespace: str) -> str:
    """A reference as a full id: names without a colon belong to ``namespace``."""
    return ref if ":" in ref else f"{namespace}:{ref}"


@dataclass(frozen=True)
class RestartPolicy:
    """``lifecycle.restart``; durations in nanoseconds."""

    initial_delay_ns: int = 1 * SECOND
    max_delay_ns: int = 90 * SECOND
    backoff_factor: float = 2.0
    jitter: float = 0.1
    max_attempts: int = 0  # 0 = unlimited


@dataclass(frozen=True)
class Lifecycle:
    """The ``lifecycle`` block of a service-like entry (spec registry.md §1.4)."""

    auto_start: bool = False
    start_timeout_ns: int = 10 * SECOND
    stop_timeout_ns: int = 10 * SECOND
    stable_threshold_ns: int = 5 * SECOND
    # ``requires`` and legacy ``depends_on`` merged, de-duplicated, as full ids.
    requires: tuple[str, ...] = ()
    startup: str = "required"  # "required" | "optional"
    security: dict[str, Any] | None = None
    restart: RestartPolicy = field(default_factory=RestartPolicy)


@dataclass
class Entry:
    """One registry record. ``file``/``line`` point at where the entry starts."""

    id: str
    namespace: str
    name: str
    kind: str
    meta: dict[str, Any]
    data: dict[str, Any]
    file: str
    line: int
    # Set when ``source`` came from ``file://``: the .lua path relative to the app dir.
    source_file: str | None = None
    # First line of the Lua code in ``source_file`` (1) or in ``file`` for inline source.
    source_line: int | None = None
    # Line of each top-level data key (and of ``meta``/``name``/``kind``), for messages.
    field_lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    _lifecycle: Lifecycle | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def location(self) -> Location:
        return Location(self.file, self.line, self.id)

    def location_of(self, field_name: str) -> Location:
        """Location of a data field (nested names use their top-level key's line)."""
        top = re.split(r"[.\[]", field_name, maxsplit=1)[0]
        return Location(self.file, self.field_lines.get(top, self.line), self.id)

    @property
    def source(self) -> str | None:
        value = self.data.get("source")
        return value if isinstance(value, str) else None

    @property
    def method(self) -> str | None:
        value = self.data.get("method")
        if isinstance(value, str) and value:
            return value
        return "main" if self.kind in _DEFAULT_MAIN_KINDS else None

    @property
    def modules(self) -> list[str]:
        value = self.data.get("modules")
        if not isinstance(value, list):
            return []
        return [m for m in value if isinstance(m, str)]

    @property
    def imports(self) -> dict[str, str]:
        """``alias -> full entry id`` (relative ids are resolved at load time)."""
        value = self.data.get("imports")
        if not isinstance(value, dict):
            return {}
        return {str(k): v for k, v in value.items() if isinstance(v, str)}

    @property
    def meta_options(self) -> dict[str, Any]:
        value = self.meta.get("options")
        return dict(value) if isinstance(value, dict) else {}

    @property
    def lifecycle(self) -> Lifecycle:
        if self._lifecycle is None:
            # Local import: kinds imports this module.
            from .kinds import parse_lifecycle

            self._lifecycle = parse_lifecycle(self.data.get("lifecycle"), self.namespace)
        return self._lifecycle

    def set_lifecycle(self, value: Lifecycle) -> None:
        self._lifecycle = value


def _meta_path(meta: Mapping[str, Any], *keys: str) -> Any:
    node: Any = meta
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def workflow_worker(entry: Entry) -> str | None:
    """The ``temporal.worker`` id hosting this workflow, or None (not registered anywhere)."""
    if not entry.kind.startswith("workflow."):
        return None
    worker = _meta_path(entry.meta, "temporal", "workflow", "worker")
    return resolve_ref(worker, entry.namespace) if isinstance(worker, str) and worker else None


def workflow_type_name(entry: Entry) -> str:
    """Temporal workflow type: ``meta.temporal.workflow.name`` or the entry id."""
    name = _meta_path(entry.meta, "temporal", "workflow", "name")
    return name if isinstance(name, str) and name else entry.id


def is_activity_kind(kind: str) -> bool:
    return kind.startswith(("function.", "process.")) and kind not in _NOT_ACTIVITY_KINDS


def activity_worker(entry: Entry) -> str | None:
    """The ``temporal.worker`` id this function/process is an activity on, or None."""
    if not is_activity_kind(entry.kind):
        return None
    worker = _meta_path(entry.meta, "temporal", "activity", "worker")
    return resolve_ref(worker, entry.namespace) if isinstance(worker, str) and worker else None


def activity_is_local(entry: Entry) -> bool:
    return _meta_path(entry.meta, "temporal", "activity", "local") is True


@dataclass
class Registry:
    """All entries of an app, in definition order (files sorted by path)."""

    root: Path
    src: Path
    node_name: str = "local"
    entries: dict[str, Entry] = field(default_factory=dict)
    # Warnings (errors make loading fail with ConfigErrors instead).
    problems: list[Problem] = field(default_factory=list)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, entry_id: object) -> bool:
        return entry_id in self.entries

    def get(self, entry_id: str) -> Entry:
        entry = self.entries.get(entry_id)
        if entry is not None:
            return entry
        close = difflib.get_close_matches(entry_id, list(self.entries), n=1)
        hint = f"did you mean {close[0]}?" if close else ""
        raise ConfigError(f"no entry {entry_id}", location=Location(entry=entry_id), hint=hint)

    def find(self, kind: str | None = None, **meta_filters: Any) -> list[Entry]:
        """Entries of ``kind`` (exact, or a glob like ``function.*``) whose meta matches.

        A filter key ``a__b`` matches the nested meta value ``meta["a"]["b"]``.
        """
        out = []
        for entry in self.entries.values():
            if kind is not None and not _kind_matches(entry.kind, kind):
                continue
            if all(_meta_path(entry.meta, *k.split("__")) == v for k, v in meta_filters.items()):
                out.append(entry)
        return out

    def by_kind(self, kind: str) -> list[Entry]:
        return self.find(kind)

    def workers(self) -> list[Entry]:
        return self.by_kind("temporal.worker")

    def workflows_of(self, worker_id: str) -> list[Entry]:
        return [e for e in self.entries.values() if workflow_worker(e) == worker_id]

    def activities_of(self, worker_id: str) -> list[Entry]:
        return [e for e in self.entries.values() if activity_worker(e) == worker_id]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def _kind_matches(kind: str, pattern: str) -> bool:
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(kind, pattern)
    return kind == pattern
