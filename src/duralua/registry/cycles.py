"""Import cycles between Lua entries.

``imports:`` are loaded eagerly when a chunk runs ``require``: an entry that (directly or
through others) imports itself would recurse until the C stack overflows. Wippy's loader
refuses such graphs too, so a cycle is a configuration error found at load time, reported
once per group of entries that import each other, with one concrete chain through it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from ..errors import Problem
from .model import LUA_KINDS, Entry


def _graph(entries: Mapping[str, Entry]) -> dict[str, list[str]]:
    graph: dict[str, list[str]] = {}
    for entry in entries.values():
        if entry.kind not in LUA_KINDS:
            continue
        targets = [t for t in entry.imports.values() if t in entries and entries[t].kind in LUA_KINDS]
        graph[entry.id] = sorted(set(targets))
    return graph


def _components(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), iterative: an app may chain many libraries."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = graph[node]
            if i < len(targets):
                work.append((node, i + 1))
                nxt = targets[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(sorted(component))
    return found


def _chain(graph: dict[str, list[str]], members: set[str]) -> list[str]:
    """The shortest cycle from the component's first entry back to itself."""
    start = min(members)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in graph[node]:
            if nxt not in members:
                continue
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    return [start, start]  # unreachable for a real component


def _where(entry: Entry) -> str:
    loc = entry.location_of("imports")
    return f"{loc.file}:{loc.line}" if loc.file and loc.line else (loc.file or "")


def import_cycles(entries: Mapping[str, Entry]) -> list[Problem]:
    """One error per group of Lua entries whose ``imports:`` form a cycle."""
    graph = _graph(entries)
    problems = []
    for component in _components(graph):
        members = set(component)
        first = component[0]
        if len(component) == 1 and first not in graph[first]:
            continue
        chain = _chain(graph, members)
        steps = []
        for entry_id in chain[:-1]:
            where = _where(entries[entry_id])
            steps.append(f"{entry_id} ({where})" if where else entry_id)
        text = " imports ".join(steps) + f" imports {chain[-1]}"
        if len(chain) == 2:
            text = f"{steps[0]} imports itself"
        problems.append(
            Problem(
                f"imports: import cycle: {text}; entries cannot import each other (Lua would recurse "
                "without end): move the shared code into a library that imports neither",
                entries[first].location_of("imports"),
            )
        )
    return problems
