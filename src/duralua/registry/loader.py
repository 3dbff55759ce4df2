"""Definition files -> entries: app layout, YAML with line numbers, ``file://`` interpolation.

Problems are collected, never raised one by one, so ``duralua check`` can show all of them;
:func:`load_app` raises one :class:`ConfigErrors` at the end if any of them is an error.
"""

from __future__ import annotations

import copy
import json
import os
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, ConfigErrors, Location, Problem
from .kinds import validate_entries
from .model import Entry, Registry

LOCK_FILE = "wippy.lock"
RUNTIME_CONFIG = ".wippy.yaml"
DEFINITION_SUFFIXES = (".yaml", ".yml", ".json")
ALWAYS_SKIPPED_DIRS = frozenset({"node_modules"})

# Keys of the single-entry form that describe the file, not the entry's data.
_FILE_KEYS = frozenset({"namespace", "name", "kind", "meta", "version", "requirements", "entries"})
_ENTRY_KEYS = frozenset({"name", "kind", "meta"})
_FILE_PREFIX = "file://"


# ---------------------------------------------------------------------------------------------
# YAML
# ---------------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars where 1.1 surprises users.

    ``on``/``yes``/``no`` stay strings and dates stay strings (Wippy reads YAML 1.2, and
    a ``datetime`` would not survive JSON encoding of entry data anyway).
    """


_Loader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _compose(text: str) -> yaml.Node | None:
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _construct(node: yaml.Node) -> Any:
    loader = _Loader("")
    try:
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.YAMLError, file: str) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        line = mark.line + 1 if mark is not None else None
        return Problem(f"invalid YAML: {what or exc}", Location(file, line))
    return Problem(f"invalid YAML: {exc}", Location(file))


def _first_line(value: yaml.Node) -> int:
    # A block scalar's text starts on the line after its ``|``/``>`` indicator.
    if isinstance(value, yaml.ScalarNode) and value.style in ("|", ">"):
        return value.start_mark.line + 2
    return value.start_mark.line + 1


def _keys(node: yaml.Node | None) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}


@dataclass
class _EntryLines:
    line: int = 1
    fields: dict[str, int] = field(default_factory=dict)
    source_line: int | None = None


def _entry_lines(node: yaml.Node | None, explicit_data: bool) -> _EntryLines:
    if node is None:
        return _EntryLines()
    keys = _keys(node)
    fields = {name: k.start_mark.line + 1 for name, (k, _v) in keys.items()}
    data_keys = keys
    if explicit_data and "data" in keys:
        data_keys = _keys(keys["data"][1])
        fields.update({name: k.start_mark.line + 1 for name, (k, _v) in data_keys.items()})
    source = data_keys.get("source")
    return _EntryLines(
        line=node.start_mark.line + 1,
        fields=fields,
        source_line=_first_line(source[1]) if source else None,
    )


# ---------------------------------------------------------------------------------------------
# Where definition files come from
# ---------------------------------------------------------------------------------------------


class _Files:
    """The ``src`` tree: definition files and the targets of ``file://``.

    Paths are POSIX, relative to ``src``; :meth:`display` turns them into the path relative
    to the app dir that messages show.
    """

    def definitions(self) -> list[str]:
        raise NotImplementedError

    def read(self, rel: str) -> str:
        raise NotImplementedError

    def display(self, rel: str) -> str:
        raise NotImplementedError


class _DirFiles(_Files):
    def __init__(self, root: Path, src: Path, skip: frozenset[str]) -> None:
        self.src = src
        self.skip = skip
        prefix = os.path.relpath(src, root).replace(os.sep, "/")
        self.prefix = "" if prefix == "." else prefix + "/"

    def definitions(self) -> list[str]:
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.src):
            dirnames[:] = sorted(d for d in dirnames if d not in self.skip)
            rel_dir = os.path.relpath(dirpath, self.src).replace(os.sep, "/")
            for name in sorted(filenames):
                if name.endswith(DEFINITION_SUFFIXES):
                    found.append(name if rel_dir == "." else f"{rel_dir}/{name}")
        return found

    def read(self, rel: str) -> str:
        return (self.src / rel).read_text(encoding="utf-8")

    def display(self, rel: str) -> str:
        return self.prefix + rel


class _MemoryFiles(_Files):
    def __init__(self, documents: Mapping[str, str]) -> None:
        self.documents = {posixpath.normpath(k.lstrip("/")): v for k, v in documents.items()}

    def definitions(self) -> list[str]:
        return sorted(k for k in self.documents if k.endswith(DEFINITION_SUFFIXES))

    def read(self, rel: str) -> str:
        try:
            return self.documents[rel]
        except KeyError:
            raise FileNotFoundError(rel) from None

    def display(self, rel: str) -> str:
        return rel


# ---------------------------------------------------------------------------------------------
# One definition file -> entries
# ---------------------------------------------------------------------------------------------


@dataclass
class _Parsed:
    data: Any
    node: yaml.Node | None  # for line numbers; None when unknown


def _parse(text: str, display: str, problems: list[Problem]) -> _Parsed | None:
    if display.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(Problem(f"invalid JSON: {exc.msg}", Location(display, exc.lineno)))
            return None
        try:
            # JSON is (nearly) YAML: borrow the YAML composer for entry line numbers.
            node = _compose(text)
        except yaml.YAMLError:
            node = None
        return _Parsed(data, node)
    try:
        node = _compose(text)
        return _Parsed(_construct(node) if node is not None else None, node)
    except yaml.YAMLError as exc:
        problems.append(_yaml_problem(exc, display))
        return None


class _DefinitionReader:
    def __init__(self, files: _Files, problems: list[Problem]) -> None:
        self.files = files
        self.problems = problems
        self._cache: dict[str, str | OSError | UnicodeDecodeError] = {}

    def error(self, message: str, file: str, line: int | None = None, entry: str | None = None) -> None:
        self.problems.append(Problem(message, Location(file, line, entry)))

    def read_file(self, rel: str) -> Iterator[Entry]:
        display = self.files.display(rel)
        try:
            text = self.files.read(rel)
        except (OSError, UnicodeDecodeError) as exc:
            self.error(f"cannot read definition file: {exc}", display)
            return
        parsed = _parse(text, display, self.problems)
        if parsed is None or not isinstance(parsed.data, dict) or "namespace" not in parsed.data:
            return  # not a Wippy definition file
        doc: dict[str, Any] = parsed.data
        top = _keys(parsed.node)

        def line_of(key: str) -> int:
            return top[key][0].start_mark.line + 1 if key in top else 1

        namespace = doc["namespace"]
        if not isinstance(namespace, str) or not namespace.strip():
            self.error("namespace must be a non-empty string", display, line_of("namespace"))
            return
        if ":" in namespace or namespace != namespace.strip():
            self.error(f"invalid namespace {namespace!r} (no colons or spaces)", display, line_of("namespace"))
            return
        file_meta = doc.get("meta") or {}
        if not isinstance(file_meta, dict):
            self.error("file-level meta must be a mapping", display, line_of("meta"))
            file_meta = {}

        if "entries" in doc:
            items = doc["entries"] if doc["entries"] is not None else []
            if not isinstance(items, list):
                self.error("entries must be a list", display, line_of("entries"))
                return
            seq = top["entries"][1] if "entries" in top else None
            item_nodes = seq.value if isinstance(seq, yaml.SequenceNode) else []
            for index, item in enumerate(items):
                node = item_nodes[index] if index < len(item_nodes) else None
                explicit = isinstance(item, dict) and "data" in item
                lines = _entry_lines(node, explicit)
                if not isinstance(item, dict):
                    self.error(f"entries[{index}] must be a mapping with name and kind", display, lines.line)
                    continue
                data = item["data"] if explicit else {k: v for k, v in item.items() if k not in _ENTRY_KEYS}
                entry = self._entry(namespace, item, data, file_meta, rel, lines)
                if entry is not None:
                    yield entry
        elif "name" in doc or "kind" in doc:
            lines = _entry_lines(parsed.node, explicit_data=False)
            lines.line = line_of("name") if "name" in top else line_of("kind")
            data = {k: v for k, v in doc.items() if k not in _FILE_KEYS}
            entry = self._entry(namespace, doc, data, {}, rel, lines)
            if entry is not None:
                yield entry
        else:
            self.error(
                f"namespace {namespace} has neither an `entries` list nor a single entry (top-level `name` and `kind`)",
                display,
                line_of("namespace"),
            )

    def _entry(
        self,
        namespace: str,
        raw: dict[str, Any],
        data: Any,
        file_meta: dict[str, Any],
        rel: str,
        lines: _EntryLines,
    ) -> Entry | None:
        display = self.files.display(rel)
        name = raw.get("name")
        kind = raw.get("kind")
        entry_id = f"{namespace}:{name}" if isinstance(name, str) and name else None
        ok = True
        if name is None or name == "":
            self.error("entry has no `name`", display, lines.line, entry_id)
            ok = False
        elif not isinstance(name, str) or ":" in name:
            self.error(f"invalid entry name {name!r} (a string without colons)", display, lines.line)
            ok = False
        if kind is None or kind == "":
            self.error("entry has no `kind`", display, lines.line, entry_id)
            ok = False
        elif not isinstance(kind, str):
            self.error(f"invalid kind {kind!r} (must be a string)", display, lines.line, entry_id)
            ok = False
        meta = raw.get("meta") or {}
        if not isinstance(meta, dict):
            self.error("meta must be a mapping", display, lines.fields.get("meta", lines.line), entry_id)
            ok = False
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self.error("data must be a mapping", display, lines.fields.get("data", lines.line), entry_id)
            ok = False
        if not ok or entry_id is None or not isinstance(kind, str):
            return None
        # Deep copies: YAML anchors and file-level meta are shared objects, and later
        # passes rewrite references in place.
        entry = Entry(
            id=entry_id,
            namespace=namespace,
            name=str(name),
            kind=kind,
            meta=copy.deepcopy({**file_meta, **meta}),
            data=copy.deepcopy(data),
            file=display,
            line=lines.line,
            source_line=lines.source_line if isinstance(data.get("source"), str) else None,
            field_lines=lines.fields,
        )
        self._interpolate(entry, rel)
        return entry

    # -- file:// --------------------------------------------------------------------------

    def _interpolate(self, entry: Entry, rel: str) -> None:
        base = posixpath.dirname(rel)

        def walk(value: Any, path: str) -> Any:
            if isinstance(value, str):
                if value.startswith(_FILE_PREFIX):
                    return self._file_contents(entry, base, value, path)
                return value
            if isinstance(value, dict):
                return {k: walk(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v, f"{path}[{i}]") for i, v in enumerate(value)]
            return value

        source = entry.data.get("source")
        entry.data = walk(entry.data, "")
        if isinstance(source, str) and source.startswith(_FILE_PREFIX):
            target = self._target(base, source)
            if isinstance(target, str):
                entry.source_file = self.files.display(target)
                entry.source_line = 1

    def _target(self, base: str, reference: str) -> str | Problem:
        """The src-relative path of a ``file://`` reference, or why there is none."""
        raw = reference[len(_FILE_PREFIX) :]
        # ``file:///x`` is relative to the src root, ``file://x`` to the definition's dir.
        joined = raw.lstrip("/") if raw.startswith("/") else posixpath.join(base, raw)
        if not raw.strip("/"):
            return Problem(f"empty path in {reference!r}")
        clean = posixpath.normpath(joined)
        if clean == ".." or clean.startswith("../"):
            return Problem(f"path traversal in {reference!r}: {clean} is outside the src directory")
        return clean

    def _file_contents(self, entry: Entry, base: str, reference: str, path: str) -> str:
        where = entry.location_of(path)
        target = self._target(base, reference)
        if isinstance(target, Problem):
            self.problems.append(Problem(f"{path}: {target.message}", where))
            return reference
        cached = self._cache.get(target)
        if cached is None:
            try:
                cached = self.files.read(target)
            except (OSError, UnicodeDecodeError) as exc:
                cached = exc
            self._cache[target] = cached
        if isinstance(cached, str):
            return cached
        shown = self.files.display(target)
        if isinstance(cached, FileNotFoundError):
            reason = "file not found"
        elif isinstance(cached, IsADirectoryError):
            reason = "is a directory"
        elif isinstance(cached, UnicodeDecodeError):
            reason = "not UTF-8 text"
        else:
            reason = f"cannot read ({cached.strerror or cached})"
        self.problems.append(Problem(f"{path}: {reference} -> {shown}: {reason}", where))
        return reference


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


def _load(
    files: _Files,
    root: Path,
    src: Path,
    node_name: str,
    env: Mapping[str, str],
    lenient: bool = False,
) -> Registry:
    problems: list[Problem] = []
    reader = _DefinitionReader(files, problems)
    entries: dict[str, Entry] = {}
    for rel in files.definitions():
        for entry in reader.read_file(rel):
            first = entries.get(entry.id)
            if first is not None:
                problems.append(
                    Problem(
                        f"duplicate entry id {entry.id}: already defined at {first.file}:{first.line}",
                        entry.location,
                    )
                )
                continue
            entries[entry.id] = entry
    validate_entries(entries, problems, env)
    if any(p.message.startswith(SYNTAX_ERRORS) for p in problems):
        # The entries of a file that does not parse are missing: references to them would only
        # repeat the syntax error, once per referring entry.
        problems = [p for p in problems if not _MISSING_REF.search(p.message)]
    problems.sort(key=_problem_order)
    if not lenient and any(p.severity == "error" for p in problems):
        raise ConfigErrors(problems)
    return Registry(root=root, src=src, node_name=node_name, entries=entries, problems=problems)


SYNTAX_ERRORS = ("invalid YAML", "invalid JSON")
_MISSING_REF = re.compile(r": no entry \S+")


def _problem_order(problem: Problem) -> tuple[str, int]:
    return (problem.location.file or "", problem.location.line or 0)


def load_app(path: str | Path, *, env: Mapping[str, str] | None = None, lenient: bool = False) -> Registry:
    """Load the app at ``path`` (a dir with ``wippy.lock``, or a src dir without one).

    Raises :class:`ConfigErrors` listing every error found; warnings stay in
    ``registry.problems``. ``env`` replaces ``os.environ`` for placeholders and
    ``SKIP_TEST_DIRS``. ``lenient`` returns the registry anyway, errors in ``problems``
    (``duralua check`` lints what loaded); such a registry is not meant to be run.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    root = Path(path)
    if root.is_file() and root.name == LOCK_FILE:
        root = root.parent
    if not root.is_dir():
        state = "is not a directory" if root.exists() else "does not exist"
        raise ConfigError(f"app directory {path} {state}", hint="pass the directory that holds wippy.lock")
    lock = root / LOCK_FILE
    src = root / _src_dir(lock) if lock.is_file() else root
    if not src.is_dir():
        raise ConfigError(
            f"src directory {src} does not exist", location=Location(LOCK_FILE), hint="check directories.src"
        )
    node_name = _node_name(root / RUNTIME_CONFIG)
    skip = ALWAYS_SKIPPED_DIRS | {d.strip() for d in environ.get("SKIP_TEST_DIRS", "").split(",") if d.strip()}
    return _load(_DirFiles(root, src, frozenset(skip)), root, src, node_name, environ, lenient)


_NAMESPACE_KEY = re.compile(r'^(namespace\s*:|\s*\{?\s*"namespace"\s*:)', re.MULTILINE)


def is_app_dir(path: str | Path) -> bool:
    """True for a directory that holds an app: a ``wippy.lock``, or definition files (YAML or
    JSON with a ``namespace``) at its top level. Loading anything else would scan every file
    below it (a home directory, ``/tmp``) for definitions."""
    root = Path(path)
    if (root / LOCK_FILE).is_file():
        return True
    try:
        candidates = [p for p in root.iterdir() if p.suffix in DEFINITION_SUFFIXES and p.is_file()]
    except OSError:
        return False
    for candidate in candidates:
        try:
            with candidate.open(encoding="utf-8", errors="replace") as f:
                head = f.read(65536)
        except OSError:
            continue
        if _NAMESPACE_KEY.search(head):
            return True
    return False


def load_documents(
    documents: Mapping[str, str],
    *,
    root: str | Path = ".",
    env: Mapping[str, str] | None = None,
    node_name: str = "local",
    lenient: bool = False,
) -> Registry:
    """Build a registry from in-memory files ``{path: text}`` (tests, embedding).

    Paths are relative to the src root; non-definition files (``.lua``) are what
    ``file://`` references read. ``lenient`` as for :func:`load_app`.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    root_path = Path(root)
    return _load(_MemoryFiles(documents), root_path, root_path, node_name, environ, lenient)


def _read_yaml(path: Path) -> Any:
    try:
        node = _compose(path.read_text(encoding="utf-8"))
        return _construct(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise ConfigErrors([_yaml_problem(exc, path.name)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path.name}: {exc}", location=Location(path.name)) from None


def _src_dir(lock: Path) -> str:
    data = _read_yaml(lock)
    directories = data.get("directories") if isinstance(data, dict) else None
    src = directories.get("src") if isinstance(directories, dict) else None
    if src is None:
        return "src"
    if not isinstance(src, str) or not src:
        raise ConfigError("directories.src must be a path", location=Location(LOCK_FILE))
    return src


def _node_name(config: Path) -> str:
    if not config.is_file():
        return "local"
    data = _read_yaml(config)
    relay = data.get("relay") if isinstance(data, dict) else None
    name = relay.get("node_name") if isinstance(relay, dict) else None
    if name is None:
        return "local"
    if not isinstance(name, str) or not name:
        raise ConfigError("relay.node_name must be a non-empty string", location=Location(RUNTIME_CONFIG))
    return name
