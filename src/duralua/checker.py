"""``duralua check``: load the registry and compile every Lua entry, collecting all problems."""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigErrors, DuraluaError, Location, LuaError, Problem
from .registry import load_app


def check_app(directory: str | Path) -> list[Problem]:
    try:
        registry = load_app(directory)
    except ConfigErrors as exc:
        return list(exc.problems)
    except DuraluaError as exc:
        return [Problem(str(exc.message), exc.location)]
    problems = list(registry.problems)
    if any(e.kind.startswith("http.") for e in registry.entries.values()):
        from .http.routes import route_problems  # duplicate routes, bad patterns, cors options

        problems.extend(route_problems(registry))
    from .catalog import LUA_KINDS, Catalog
    from .lua.sandbox import LuaSandbox

    catalog = Catalog(registry)
    sandbox = LuaSandbox()
    for entry in registry.entries.values():
        if entry.kind not in LUA_KINDS:
            continue
        code = catalog.code_of(entry.id)
        try:
            sandbox.compile(code.source, code.chunkname, first_line=code.first_line)
        except LuaError as exc:
            loc = exc.location
            problems.append(Problem(exc.message, Location(loc.file, loc.line, entry.id)))
    return problems
