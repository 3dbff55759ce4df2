"""Helpers of the registry loader tests: an app written to a temporary directory, loaded."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from duralua.errors import ConfigErrors, Problem
from duralua.registry import Registry, load_app

LOCK = "directories:\n  src: ./src\n  modules: .wippy\n"


def make_app(root: Path, files: dict[str, str], *, lock: str | None = LOCK) -> Path:
    """Write ``files`` (paths relative to ``src/``) and a lock file under ``root``."""
    if lock is not None:
        (root / "wippy.lock").write_text(lock)
    src = root / "src" if lock is not None else root
    for rel, text in files.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def load(root: Path, files: dict[str, str], env: dict[str, str] | None = None) -> Registry:
    return load_app(make_app(root, files), env=env or {})


def errors(root: Path, files: dict[str, str], env: dict[str, str] | None = None) -> list[Problem]:
    with pytest.raises(ConfigErrors) as info:
        load(root, files, env)
    return [p for p in info.value.problems if p.severity == "error"]


def one_error(root: Path, files: dict[str, str], env: dict[str, str] | None = None) -> Problem:
    found = errors(root, files, env)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line of the dedented ``text`` containing ``needle``."""
    for number, line in enumerate(textwrap.dedent(text).splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")
