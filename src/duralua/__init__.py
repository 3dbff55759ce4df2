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
    "BudgetExceeded": "duralua.errors",
    "CallError": "duralua.errors",
    "Clock": "duralua.embedded.clock",
    "ConfigError": "duralua.errors",
    "ConfigErrors": "duralua.errors",
    "DuraluaError": "duralua.errors",
    "EncodeError": "duralua.errors",
    "EngineError": "duralua.errors",
    "Failure": "duralua.errors",
    "LuaError": "duralua.errors",
    "MemoryLimitExceeded": "duralua.errors",
    "NondeterminismError": "duralua.errors",
    "Problem": "duralua.errors",
    "SandboxViolation": "duralua.errors",
    "VirtualClock": "duralua.embedded.clock",
    "WorkflowNotFound": "duralua.errors",
    "Registry": "duralua.registry",
    "load_app": "duralua.registry",
    "WorkflowEnvironment": "duralua.testing",
}

__all__ = [*sorted(_EXPORTS), "__version__"]

if TYPE_CHECKING:
    # Redundant aliases mark these as re-exports (the names are resolved lazily by __getattr__).
    from .app import App as App
    from .app import Workflows as Workflows
    from .embedded.clock import Clock as Clock
    from .embedded.clock import VirtualClock as VirtualClock
    from .errors import BudgetExceeded as BudgetExceeded
    from .errors import CallError as CallError
    from .errors import ConfigError as ConfigError
    from .errors import ConfigErrors as ConfigErrors
    from .errors import DuraluaError as DuraluaError
    from .errors import EncodeError as EncodeError
    from .errors import EngineError as EngineError
    from .errors import Failure as Failure
    from .errors import LuaError as LuaError
    from .errors import MemoryLimitExceeded as MemoryLimitExceeded
    from .errors import NondeterminismError as NondeterminismError
    from .errors import Problem as Problem
    from .errors import SandboxViolation as SandboxViolation
    from .errors import WorkflowNotFound as WorkflowNotFound
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
