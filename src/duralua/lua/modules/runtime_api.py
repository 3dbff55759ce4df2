"""The runtime's own modules: ``registry``, ``events``, ``logger``, ``env`` and ``io``
(spec runtime-modules.md §1-§5).

Their Lua side (``<name>.lua`` here) checks arguments and builds the objects; everything that
needs the app or the calling process is a host op (``registry.get``, ``events.send``,
``logger.log``, ``env.get``, ``io.write``...) that the runtime answers (``duralua.runtime.
modules``). A workflow's host answers none of them, and a workflow cannot list these modules
(the registry check refuses non-deterministic modules in workflows).
"""

from __future__ import annotations

from typing import Any

from ..context import HostContext
from ..convert import LuaState, state_of
from ._ops import host_op
from ._support import lua_source, pyfn

#: st.cache keys of the driver's topic channels (lua/driver.lua D.topic_channel/D.drop_topic).
TOPIC_CHANNEL_KEY = "duralua.topic_channel"
DROP_TOPIC_KEY = "duralua.drop_topic"


def _setup(st: LuaState, name: str) -> Any:
    calls: dict[str, Any] = {
        "host_op": lambda: host_op(st) or False,
        "topic_channel": lambda: st.cache.get(TOPIC_CHANNEL_KEY, False),
        "drop_topic": lambda: st.cache.get(DROP_TOPIC_KEY, False),
    }

    def dispatch(what: str, *args: Any) -> Any:
        return calls[what](*args)

    return st.execute(lua_source(f"{name}.lua"), st.core, pyfn(st, dispatch), name=f"=duralua.{name}")


def _installer(name: str) -> Any:
    def install(lua: Any, ctx: HostContext) -> Any:
        st = state_of(lua)
        # One template per Lua state; require() copies it (the logger's is a factory).
        return st.cached(f"runtime_api.{name}", lambda: _setup(st, name))

    return install


install_registry = _installer("registry")
install_events = _installer("events")
install_logger = _installer("logger")
install_env = _installer("env")
install_io = _installer("io")
