"""Environment variables of an app (spec runtime-modules.md §4): ``env.variable`` entries over
``env.storage.*`` entries. Only declared variables are visible to ``env.get``; ``get_all``
merges every storage (an OS storage contributes the whole process environment)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import INVALID, NOT_FOUND, PERMISSION_DENIED, Failure, Problem

if TYPE_CHECKING:
    from ..registry import Registry

_NAME = re.compile(r"[A-Za-z0-9_]*")


class Storage:
    readonly = False

    def get(self, key: str) -> str | None:
        raise NotImplementedError

    def set(self, key: str, value: str) -> Failure | None:
        return Failure("storage is read-only", PERMISSION_DENIED, False)

    def items(self) -> dict[str, str]:
        raise NotImplementedError


class MemoryStorage(Storage):
    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values = dict(values or {})

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> Failure | None:
        self.values[key] = value
        return None

    def items(self) -> dict[str, str]:
        return dict(self.values)


class StaticStorage(MemoryStorage):
    readonly = True

    def set(self, key: str, value: str) -> Failure | None:
        return Failure("storage is read-only", PERMISSION_DENIED, False)


class OsStorage(Storage):
    readonly = True

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def get(self, key: str) -> str | None:
        return self.environ.get(key)

    def items(self) -> dict[str, str]:
        return dict(self.environ)


class FileStorage(Storage):
    """A ``.env`` file (``KEY=VALUE``, ``#`` comments), read on every access."""

    def __init__(self, path: Path, auto_create: bool, file_mode: int, dir_mode: int) -> None:
        self.path = path
        self.auto_create = auto_create
        self.file_mode = file_mode
        self.dir_mode = dir_mode

    def _read(self) -> dict[str, str]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        out: dict[str, str] = {}
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, _, value = line.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            out[key.strip()] = value
        return out

    def get(self, key: str) -> str | None:
        return self._read().get(key)

    def items(self) -> dict[str, str]:
        return self._read()

    def set(self, key: str, value: str) -> Failure | None:
        if not self.path.exists() and not self.auto_create:
            return Failure(f"env file {self.path} does not exist (auto_create is off)", NOT_FOUND, False)
        values = self._read()
        values[key] = value
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=self.dir_mode)
            self.path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
            os.chmod(self.path, self.file_mode)
        except OSError as exc:
            return Failure(f"cannot write {self.path}: {exc.strerror}", "Internal", False)
        return None


class RouterStorage(Storage):
    def __init__(self, storages: list[Storage]) -> None:
        self.storages = storages

    def get(self, key: str) -> str | None:
        for storage in self.storages:
            value = storage.get(key)
            if value:
                return value
        return None

    def set(self, key: str, value: str) -> Failure | None:
        return self.storages[0].set(key, value)

    def items(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for storage in reversed(self.storages):
            out.update(storage.items())
        return out


@dataclass
class Variable:
    id: str
    public: str
    storage: str
    default: str = ""
    readonly: bool = False


@dataclass
class EnvStore:
    storages: dict[str, Storage] = field(default_factory=dict)
    variables: dict[str, Variable] = field(default_factory=dict)  # by entry id
    problems: list[Problem] = field(default_factory=list)

    def _find(self, name: str, namespace: str) -> Variable | None:
        for var in self.variables.values():
            if var.public == name:
                return var
        if ":" not in name and f"{namespace}:{name}" in self.variables:
            return self.variables[f"{namespace}:{name}"]
        return self.variables.get(name)

    def get(self, name: str, namespace: str = "") -> tuple[str | None, Failure | None]:
        if not name:
            return None, Failure("empty key", INVALID, False)
        var = self._find(name, namespace)
        storage = self.storages.get(var.storage) if var is not None else None
        if var is None or storage is None:
            return None, Failure(f"environment variable not found: {name}", NOT_FOUND, False)
        value = storage.get(var.public)
        if value:
            return value, None
        if var.default:
            return var.default, None
        return None, Failure(f"environment variable not found: {name}", NOT_FOUND, False)

    def set(self, name: str, value: str, namespace: str = "") -> tuple[bool | None, Failure | None]:
        if not name:
            return None, Failure("empty key", INVALID, False)
        var = self._find(name, namespace)
        storage = self.storages.get(var.storage) if var is not None else None
        if var is None or storage is None:
            return None, Failure(f"environment variable not found: {name}", NOT_FOUND, False)
        if var.readonly:
            return None, Failure("environment variable is read-only", PERMISSION_DENIED, False)
        failure = storage.set(var.public, value)
        return (None, failure) if failure is not None else (True, None)

    def get_all(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for storage in self.storages.values():
            out.update(storage.items())
        return out


def _mode(value: Any, default: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value, 8)
        except ValueError:
            return default
    return default


def build_env(registry: Registry, environ: Mapping[str, str] | None = None) -> EnvStore:
    """The env store of an app; bad entries are problems (and left out), not exceptions."""
    environ = os.environ if environ is None else environ
    store = EnvStore()
    routers: list[tuple[str, list[str], Any]] = []
    for entry in registry.entries.values():
        kind, data = entry.kind, entry.data
        if kind == "env.storage.memory":
            store.storages[entry.id] = MemoryStorage()
        elif kind == "env.storage.static":
            values = data.get("values") or {}
            if not isinstance(values, dict):
                store.problems.append(Problem("values must be a mapping KEY: value", entry.location_of("values")))
                continue
            store.storages[entry.id] = StaticStorage({str(k): str(v) for k, v in values.items()})
        elif kind == "env.storage.os":
            store.storages[entry.id] = OsStorage(environ)
        elif kind == "env.storage.file":
            path = data.get("file_path")
            if not isinstance(path, str) or not path:
                store.problems.append(Problem("file_path is required (the .env file)", entry.location_of("file_path")))
                continue
            full = Path(path) if Path(path).is_absolute() else registry.root / path
            store.storages[entry.id] = FileStorage(full, data.get("auto_create") is True,
                                                   _mode(data.get("file_mode"), 0o644),
                                                   _mode(data.get("dir_mode"), 0o755))  # fmt: skip
        elif kind == "env.storage.router":
            refs = data.get("storages")
            if not isinstance(refs, list) or not refs:
                where = entry.location_of("storages")
                store.problems.append(Problem("storages must list at least one storage id", where))
                continue
            routers.append((entry.id, [_full(str(r), entry.namespace) for r in refs], entry))
    for rid, refs, entry in routers:
        missing = [r for r in refs if r not in store.storages]
        if missing:
            store.problems.append(Problem(f"storages: no storage {missing[0]}", entry.location_of("storages")))
            continue
        store.storages[rid] = RouterStorage([store.storages[r] for r in refs])
    publics: set[str] = set()
    for entry in registry.entries.values():
        if entry.kind != "env.variable":
            continue
        data = entry.data
        public = data.get("variable") or entry.id
        storage = data.get("storage")
        if not isinstance(public, str) or (data.get("variable") and not _NAME.fullmatch(public)):
            store.problems.append(Problem(f"variable {public!r} must be letters, digits and _",
                                          entry.location_of("variable")))  # fmt: skip
            continue
        if not isinstance(storage, str) or _full(storage, entry.namespace) not in store.storages:
            store.problems.append(Problem(f"storage: no env.storage entry {storage!r}", entry.location_of("storage")))
            continue
        if public in publics:
            store.problems.append(Problem(f"variable {public} is declared twice", entry.location_of("variable")))
            continue
        publics.add(public)
        default = data.get("default")
        store.variables[entry.id] = Variable(
            entry.id,
            public,
            _full(storage, entry.namespace),
            "" if default is None else str(default),
            data.get("readonly") is True,
        )
    return store


def _full(ref: str, namespace: str) -> str:
    return ref if ":" in ref else f"{namespace}:{ref}"
