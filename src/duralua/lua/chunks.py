"""Precompiled Lua chunks: our own Lua sources are compiled once per process.

Every workflow run gets a fresh Lua state; compiling the driver and module sources into each
one would dominate start-up. ``lua.execute`` accepts binary chunks, so each source is turned
into bytecode once (in a scratch state, with ``string.dump``) and loaded from that after.
Only code shipped with duralua goes through here; user code is always loaded as text.
"""

from __future__ import annotations

import threading
from typing import Any

import lupa.lua54 as lupa

_CACHE: dict[tuple[str, str], bytes] = {}
_SCRATCH: Any = None
_LOCK = threading.Lock()  # Temporal's replayer runs workflow tasks on several threads


def bytecode(source: str, name: str) -> bytes:
    """The bytecode of ``source`` compiled with chunk name ``name`` (cached)."""
    key = (name, source)
    code = _CACHE.get(key)
    if code is not None:
        return code
    with _LOCK:
        return _compile(key, source, name)


def _compile(key: tuple[str, str], source: str, name: str) -> bytes:
    code = _CACHE.get(key)
    if code is None:
        global _SCRATCH
        if _SCRATCH is None:
            # encoding=None: the dumped bytecode comes back as bytes, not decoded text.
            _SCRATCH = lupa.LuaRuntime(register_eval=False, register_builtins=False, encoding=None)
        dump = _SCRATCH.eval(b"function(src, name) return string.dump(assert(load(src, name, 't'))) end")
        dumped = dump(source.encode("utf-8"), name.encode("utf-8"))
        assert isinstance(dumped, bytes)
        code = _CACHE[key] = dumped
    return code


def run(lua: Any, source: str, name: str, *args: Any) -> Any:
    """Execute one of our Lua sources in ``lua`` (from cached bytecode) with ``args`` as ``...``."""
    return lua.execute(bytecode(source, name), *args)
