"""Host operations that modules add: blocking module functions outside the process driver.

A module function that must wait for the host (an outgoing HTTP request) or that needs the
state of the call it runs in (the HTTP exchange of a handler) yields a *host op* with
:func:`host_op`. The runtime that hosts the Lua process answers it with the handler
registered here under the op's name, passing itself as the :class:`OpCaller`; a handler
returns the values to resume the coroutine with (a tuple), or a zero-argument function
returning an awaitable of them (started when the host's event loop drives the call, and
cancelled if the call ends first). Hosts that do not answer module ops (workflow runs)
resume with ``nil, err``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from ..convert import LuaState


class OpCaller(Protocol):
    """The process a module op runs for (a function call)."""

    @property
    def pid(self) -> str: ...

    @property
    def values(self) -> Mapping[str, Any]:
        """Host values of this call only (never inherited by the calls it makes)."""
        ...


ModuleOp = Callable[..., "tuple[Any, ...] | Callable[[], Awaitable[tuple[Any, ...]]]"]

#: op name -> handler(caller, *args); filled by the modules that define ops.
MODULE_OPS: dict[str, ModuleOp] = {}

HOST_OP_KEY = "duralua.host_op"


def host_op(st: LuaState) -> Any:
    """The Lua function ``(name, ...) -> values`` that yields a host op, or ``None`` when this
    Lua state is not driven by a process scheduler (a bare sandbox in unit tests)."""
    return st.cache.get(HOST_OP_KEY)
