"""``duralua check``: load the registry and compile every Lua entry, collecting all problems.

Beyond what loading an app reports (syntax, references, kinds, field types), the linter
reports what would only show up at run time: unknown keys on an entry (a misspelt ``modlues:``
is silently ignored by the loader), a workflow no worker hosts, modules duralua does not
provide, HTTP services that will not serve anything. A Lua file shared by several entries
is compiled once per entry but each of its errors is reported once.

Errors make ``duralua check`` exit 1; warnings are for things that may be intended.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from .errors import ConfigErrors, DuraluaError, Location, LuaError, Problem
from .registry import Entry, Registry, is_app_dir, load_app, workflow_worker
from .registry.loader import SYNTAX_ERRORS

# The data keys each kind reads (Wippy's fields; duralua's own ones are documented with the kind).
_LUA = frozenset({"source", "method", "modules", "imports"})
KNOWN_KEYS: dict[str, frozenset[str]] = {
    "function.lua": _LUA | {"pool"},
    "library.lua": frozenset({"source", "modules", "imports"}),
    "process.lua": _LUA,
    "workflow.lua": _LUA,
    "temporal.client": frozenset({"address", "namespace", "tq_prefix", "connection_timeout", "keep_alive_time",
                                  "keep_alive_timeout", "health_check", "auth", "tls", "lifecycle"}),
    "temporal.worker": frozenset({"client", "task_queue", "worker_options", "lifecycle"}),
    "http.service": frozenset({"addr", "timeouts", "host", "lifecycle", "max_body"}),
    "http.router": frozenset({"server", "prefix", "middleware", "post_middleware", "options"}),
    "http.endpoint": frozenset({"method", "path", "func"}),
}  # fmt: skip

# Wippy modules duralua does not have (yet): listing one is a warning, `require` fails.
WIPPY_MODULES = frozenset({
    "yaml", "text", "compress", "expr", "template", "html", "treesitter", "contract", "sql", "fs", "store",
    "websocket", "exec", "system", "cloudstorage", "excel", "jq", "llm", "metrics", "queue",
})  # fmt: skip
# Keys of an entry item (and, in a single-entry file, of the file) that are not its data.
_ENTRY_FIELDS = frozenset({"name", "kind", "meta", "data", "namespace", "version", "requirements", "entries"})
_VM_MODULES = frozenset({"funcs", "workflow", "process", "channel", "security", "ctx"})


def provided_modules() -> frozenset[str]:
    from .lua.modules import MODULE_INSTALLERS

    return frozenset(MODULE_INSTALLERS) | _VM_MODULES


def check_app(directory: str | Path) -> list[Problem]:
    root = Path(directory)
    if root.is_dir() and not is_app_dir(root):
        return [Problem(f"{root} is not an app: it has no wippy.lock and no definition files at its top level "
                        "(run check in the app's directory, or name it: duralua check path/to/app)",
                        Location(str(root)))]  # fmt: skip
    try:
        registry = load_app(root, lenient=True)
    except ConfigErrors as exc:
        return list(exc.problems)
    except DuraluaError as exc:
        return [Problem(str(exc.message), exc.location)]
    problems = list(registry.problems)
    if any(p.message.startswith(SYNTAX_ERRORS) for p in problems):
        return problems  # entries are missing: linting the rest would report their absence
    if any(e.kind.startswith("http.") for e in registry.entries.values()):
        from .http.routes import route_problems  # duplicate routes, bad patterns, cors options

        problems.extend(route_problems(registry))
    problems.extend(lint(registry))
    broken = {p.location.entry for p in problems if p.severity == "error"}
    problems.extend(_compile_all(registry, skip=broken))
    return sorted(problems, key=lambda p: (p.location.file or "", p.location.line or 0))


def lint(registry: Registry) -> list[Problem]:
    """What loading accepts but would not work (or not as written) at run time."""
    problems: list[Problem] = []
    provided = provided_modules()
    served = {str(e.meta.get("router") or "") for e in registry.entries.values() if e.kind == "http.endpoint"}
    for entry in registry.entries.values():
        problems.extend(_unknown_keys(entry))
        if entry.kind == "workflow.lua" and workflow_worker(entry) is None:
            problems.append(Problem(
                f"workflow {entry.id} names no worker (meta.temporal.workflow.worker): no engine hosts it, so it "
                "can never be started", entry.location_of("meta"), severity="warning"))  # fmt: skip
        for module in entry.modules:
            if module in provided or ":" in module:
                continue
            if module in WIPPY_MODULES:
                text = f"modules: duralua does not provide the Wippy module {module!r} yet (require fails)"
                problems.append(Problem(text, entry.location_of("modules"), severity="warning"))
                continue
            close = difflib.get_close_matches(module, sorted(provided | WIPPY_MODULES), n=1)
            hint = f"did you mean {close[0]}?" if close else f"modules: {', '.join(sorted(provided))}"
            problems.append(Problem(f"modules: no module {module!r} ({hint})", entry.location_of("modules")))
        if entry.kind == "http.service":
            problems.extend(_service_problems(registry, entry, served))
    return problems


def _unknown_keys(entry: Entry) -> list[Problem]:
    known = KNOWN_KEYS.get(entry.kind)
    if known is None:
        return []
    out = []
    # With an explicit `data:` block, fields beside name/kind/meta/data are dropped by the loader.
    keys = [*entry.data, *(k for k in entry.field_lines if k not in entry.data and k not in _ENTRY_FIELDS)]
    for key in keys:
        if key in known:
            continue
        where = Location(entry.file, entry.field_lines.get(key, entry.line), entry.id)
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
        if close:
            out.append(Problem(f"unknown key {key!r} for a {entry.kind} entry (did you mean {close[0]}?)", where))
        else:
            out.append(Problem(f"unknown key {key!r} for a {entry.kind} entry; it is ignored (known: "
                               f"{', '.join(sorted(known))})", where, severity="warning"))  # fmt: skip
    return out


def _service_problems(registry: Registry, entry: Entry, served: set[str]) -> list[Problem]:
    lifecycle = entry.data.get("lifecycle")
    if isinstance(lifecycle, dict) and lifecycle.get("auto_start") is False:
        return [Problem(f"http.service {entry.id} has lifecycle.auto_start: false: `duralua run` does not start it",
                        entry.location_of("lifecycle"), severity="warning")]  # fmt: skip
    routers = [e.id for e in registry.entries.values() if e.kind == "http.router" and
               (e.meta.get("server") or e.data.get("server")) == entry.id]  # fmt: skip
    if not any(r in served for r in routers):
        return [Problem(f"http.service {entry.id} has no endpoints (no http.endpoint on a router of it): it "
                        "answers 404 to everything", entry.location, severity="warning")]  # fmt: skip
    return []


def _compile_all(registry: Registry, skip: set[str | None]) -> list[Problem]:
    """Compile every Lua entry but those already in error (a failed file:// has no code)."""
    from .catalog import LUA_KINDS, Catalog
    from .lua.sandbox import LuaSandbox

    try:
        catalog = Catalog(registry)
    except DuraluaError:
        return []  # an import cycle: already reported, and the code cannot be assembled
    sandbox = LuaSandbox()
    found: dict[tuple[str | None, int | None, str], list[str]] = {}
    for entry in registry.entries.values():
        if entry.kind not in LUA_KINDS or entry.id in skip:
            continue
        try:
            code = catalog.code_of(entry.id)
        except DuraluaError:
            continue  # a broken import, reported by the registry
        try:
            sandbox.compile(code.source, code.chunkname, first_line=code.first_line)
        except LuaError as exc:
            found.setdefault((exc.location.file, exc.location.line, exc.message), []).append(entry.id)
    problems = []
    for (file, line, message), entries in found.items():
        # One file shared by several entries: its error once, naming the others.
        also = f" (also in the code of {', '.join(entries[1:])})" if len(entries) > 1 else ""
        problems.append(Problem(message + also, Location(file, line, entries[0])))
    return problems
