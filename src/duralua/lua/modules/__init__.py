"""Pure (non-blocking) Lua modules and globals, by Wippy module name.

Each installer has the signature ``install(lua, ctx) -> table`` and returns a fresh module
table for one Lua state: a copy of a template built once per state and cached. A Lua VM
builds every template when it is made, on the state's main thread, and ``require`` copies
them in Lua; the templates serve every run of the state, so their functions must not
capture ``ctx``: they read the host of the current run from ``LuaState.host`` (``_support.
host_of``). Later layers add funcs/process/channel/workflow/ctx and the blocking parts of
``time``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..context import HostContext
from . import base64, crypto, errors, hash, http, http_client, json, os, payload, runtime_api, time, uuid

Installer = Callable[[Any, HostContext], Any]

MODULE_INSTALLERS: dict[str, Installer] = {
    "errors": errors.install,
    "json": json.install,
    "payload": payload.install,
    "time": time.install,
    "os": os.install,
    "uuid": uuid.install,
    "base64": base64.install,
    "hash": hash.install,
    "crypto": crypto.install,
    "http": http.install,
    "http_client": http_client.install,
    "registry": runtime_api.install_registry,
    "events": runtime_api.install_events,
    "logger": runtime_api.install_logger,
    "env": runtime_api.install_env,
    "io": runtime_api.install_io,
}

__all__ = ["MODULE_INSTALLERS", "Installer"]
