"""duralua: durable Lua workflows for Python (Wippy-compatible; embedded SQLite engine or Temporal).

The public API is listed in ``__all__``; names are imported on first use so that light
entry points (``duralua --version``, the deterministic core) stay fast to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "App": "duralua.app",
    "Workflows": "duralua.app",
    "CallError": "duralua.errors",
    "ConfigError": "duralua.errors",
    "DuraluaError": "duralua.errors",
    "EncodeError": "duralua.errors",
    "Failure": "duralua.errors",
    "LuaError": "duralua.errors",
    "NondeterminismError": "duralua.errors",
    "Registry": "duralua.registry",
    "load_app": "duralua.registry",
    "WorkflowEnvironment": "duralua.testing",
}

__all__ = [*sorted(_EXPORTS), "__version__"]

if TYPE_CHECKING:
    # Redundant aliases mark these as re-exports (the names are resolved lazily by __getattr__).
    from .app import App as App
    from .app import Workflows as Workflows
    from .errors import CallError as CallError
    from .errors import ConfigError as ConfigError
    from .errors import DuraluaError as DuraluaError
    from .errors import EncodeError as EncodeError
    from .errors import Failure as Failure
    from .errors import LuaError as LuaError
    from .errors import NondeterminismError as NondeterminismError
    from .registry import Registry as Registry
    from .registry import load_app as load_app
    from .testing import WorkflowEnvironment as WorkflowEnvironment


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'duralua' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
