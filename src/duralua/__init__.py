"""duralua: durable Lua workflows for Python (Wippy-compatible; embedded SQLite engine or Temporal)."""

from __future__ import annotations

__version__ = "0.1.0"

from .app import App, Workflows
from .errors import (
    CallError,
    ConfigError,
    DuraluaError,
    EncodeError,
    Failure,
    LuaError,
    NondeterminismError,
)
from .registry import Registry, load_app

__all__ = [
    "App",
    "CallError",
    "ConfigError",
    "DuraluaError",
    "EncodeError",
    "Failure",
    "LuaError",
    "NondeterminismError",
    "Registry",
    "Workflows",
    "__version__",
    "load_app",
]
