"""The registry: YAML/JSON definition files -> validated entries (spec registry.md)."""

from .env import resolve_env
from .kinds import HTTP_METHODS, SUPPORTED_KINDS, WORKFLOW_MODULES, parse_lifecycle
from .loader import is_app_dir, load_app, load_documents
from .model import (
    LUA_KINDS,
    Entry,
    Lifecycle,
    Registry,
    RestartPolicy,
    activity_is_local,
    activity_worker,
    is_activity_kind,
    parse_id,
    resolve_ref,
    workflow_type_name,
    workflow_worker,
)

__all__ = [
    "HTTP_METHODS",
    "LUA_KINDS",
    "SUPPORTED_KINDS",
    "WORKFLOW_MODULES",
    "Entry",
    "Lifecycle",
    "Registry",
    "RestartPolicy",
    "activity_is_local",
    "activity_worker",
    "is_activity_kind",
    "is_app_dir",
    "load_app",
    "load_documents",
    "parse_id",
    "parse_lifecycle",
    "resolve_env",
    "resolve_ref",
    "workflow_type_name",
    "workflow_worker",
]
