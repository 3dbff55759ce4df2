"""Parsed duralua option dicts (``core.options``) -> keyword arguments of the Temporal SDK calls.

Options the Python SDK has no slot for are dropped here, on purpose and silently, as Wippy
ignores unknown keys: ``disable_eager_execution`` per activity (a worker option in Python),
``namespace`` and ``id_conflict_policy`` for children (the Python SDK starts children in the
parent's namespace and has no conflict policy for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from temporalio.common import (
    AutoUpgradeVersioningOverride,
    PinnedVersioningOverride,
    Priority,
    VersioningOverride,
    WorkerDeploymentVersion,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.workflow import (
    ActivityCancellationType,
    ChildWorkflowCancellationType,
    ParentClosePolicy,
    VersioningIntent,
)

from .config import retry_policy
from .search import typed

REUSE = {
    "allow_duplicate": WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    "allow_duplicate_failed_only": WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    "reject_duplicate": WorkflowIDReusePolicy.REJECT_DUPLICATE,
    "terminate_if_running": WorkflowIDReusePolicy.TERMINATE_IF_RUNNING,
}
CONFLICT = {
    "use_existing": WorkflowIDConflictPolicy.USE_EXISTING,
    "fail": WorkflowIDConflictPolicy.FAIL,
    "terminate_existing": WorkflowIDConflictPolicy.TERMINATE_EXISTING,
    # With id_reuse_policy terminate_if_running, which the server refuses beside a policy.
    "unspecified": WorkflowIDConflictPolicy.UNSPECIFIED,
}
PARENT_CLOSE = {
    "terminate": ParentClosePolicy.TERMINATE,
    "abandon": ParentClosePolicy.ABANDON,
    "request_cancel": ParentClosePolicy.REQUEST_CANCEL,
}
_INTENTS = {"compatible": VersioningIntent.COMPATIBLE, "default": VersioningIntent.DEFAULT}

#: Heartbeat timeout of an activity run by duralua's dynamic activity when its options name
#: none. Without one the server notices a dead worker only when the attempt's start-to-close
#: timeout (10 minutes by default) expires; the dynamic activity heartbeats every third of it.
DEFAULT_HEARTBEAT_TIMEOUT = timedelta(seconds=20)


def _td(ns: Any) -> timedelta | None:
    if ns is None:
        return None
    return timedelta(microseconds=int(ns) / 1000)


def priority(value: Any) -> Priority | None:
    if not isinstance(value, Mapping):
        return None
    key = value.get("priority_key")
    fairness_key = value.get("fairness_key")
    weight = value.get("fairness_weight")
    return Priority(
        priority_key=int(key) if isinstance(key, (int, float)) and not isinstance(key, bool) else None,
        fairness_key=fairness_key if isinstance(fairness_key, str) else None,
        fairness_weight=float(weight) if isinstance(weight, (int, float)) and not isinstance(weight, bool) else None,
    )


def _intent(value: Any) -> VersioningIntent | None:
    if not isinstance(value, str):
        return None
    return _INTENTS.get(value.strip().lower().replace("-", "_").removeprefix("versioning_intent_"))


def activity_kwargs(options: Mapping[str, Any], *, seq: int, local: bool, heartbeats: bool = False) -> dict[str, Any]:
    """Arguments of ``workflow.start_activity`` / ``start_local_activity`` (retry policy last:
    it is the one conversion that can reject a value, see :func:`retry_policy`).

    ``heartbeats`` says the activity runs on a duralua worker, which heartbeats: then it gets
    :data:`DEFAULT_HEARTBEAT_TIMEOUT` unless the options set one (``0`` turns it off). An
    activity of a foreign worker may never heartbeat, so it gets only what the options say."""
    kw: dict[str, Any] = {
        "start_to_close_timeout": _td(options.get("start_to_close_timeout_ns")),
        "schedule_to_close_timeout": _td(options.get("schedule_to_close_timeout_ns")),
        "schedule_to_start_timeout": _td(options.get("schedule_to_start_timeout_ns")),
        # The embedded engine names an activity by its command number; so does this one.
        "activity_id": str(options.get("id") or seq),
        "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
        if options.get("wait_for_cancellation")
        else ActivityCancellationType.TRY_CANCEL,
    }
    if isinstance(options.get("summary"), str):
        kw["summary"] = options["summary"]
    if not local:
        given = options.get("heartbeat_timeout_ns")
        if given is not None:
            kw["heartbeat_timeout"] = _td(given)
        elif heartbeats:
            kw["heartbeat_timeout"] = DEFAULT_HEARTBEAT_TIMEOUT
        else:
            kw["heartbeat_timeout"] = None
        if options.get("task_queue"):
            kw["task_queue"] = str(options["task_queue"])
        intent = _intent(options.get("versioning_intent"))
        if intent is not None:
            kw["versioning_intent"] = intent
        prio = priority(options.get("priority"))
        if prio is not None:
            kw["priority"] = prio
    if options.get("retry_policy"):
        kw["retry_policy"] = retry_policy(options["retry_policy"], where="activity.retry_policy")
    return kw


def _common_workflow_kwargs(options: Mapping[str, Any], schema: Mapping[str, str] | None) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "execution_timeout": _td(options.get("execution_timeout_ns")),
        "run_timeout": _td(options.get("run_timeout_ns")),
        "task_timeout": _td(options.get("task_timeout_ns")),
    }
    if options.get("id_reuse_policy") in REUSE:
        kw["id_reuse_policy"] = REUSE[options["id_reuse_policy"]]
    if options.get("cron_schedule"):
        kw["cron_schedule"] = str(options["cron_schedule"])
    if isinstance(options.get("memo"), Mapping) and options["memo"]:
        kw["memo"] = dict(options["memo"])
    if isinstance(options.get("search_attributes"), Mapping) and options["search_attributes"]:
        kw["search_attributes"] = typed(options["search_attributes"], schema)
    if isinstance(options.get("summary"), str):
        kw["static_summary"] = options["summary"]
    if isinstance(options.get("details"), str):
        kw["static_details"] = options["details"]
    prio = priority(options.get("priority"))
    if prio is not None:
        kw["priority"] = prio
    if options.get("retry_policy"):
        kw["retry_policy"] = retry_policy(options["retry_policy"], where="workflow.retry_policy")
    return kw


def child_kwargs(options: Mapping[str, Any], schema: Mapping[str, str] | None) -> dict[str, Any]:
    """Arguments of ``workflow.start_child_workflow`` (besides type, id, queue and args)."""
    kw = _common_workflow_kwargs(options, schema)
    kw["parent_close_policy"] = PARENT_CLOSE.get(str(options.get("parent_close_policy")), ParentClosePolicy.TERMINATE)
    # Wippy's default (Go's WaitForCancellation=false) is to request cancellation and move on.
    kw["cancellation_type"] = (
        ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED
        if options.get("wait_for_cancellation")
        else ChildWorkflowCancellationType.TRY_CANCEL
    )
    intent = _intent(options.get("versioning_intent"))
    if intent is not None:
        kw["versioning_intent"] = intent
    return kw


def _versioning_override(value: Any) -> VersioningOverride | None:
    if isinstance(value, str) and value.strip().lower().replace("-", "_") == "auto_upgrade":
        return AutoUpgradeVersioningOverride()
    if isinstance(value, Mapping) and str(value.get("mode", "")).lower() == "pinned":
        version = value.get("version")
        if isinstance(version, Mapping):
            return PinnedVersioningOverride(
                WorkerDeploymentVersion(
                    deployment_name=str(version.get("deployment_name", "")),
                    build_id=str(version.get("build_id", "")),
                )
            )
    return None


def start_kwargs(options: Mapping[str, Any], schema: Mapping[str, str] | None) -> dict[str, Any]:
    """Arguments of ``Client.start_workflow`` (besides type, args, id, queue, conflict policy)."""
    kw = _common_workflow_kwargs(options, schema)
    if options.get("start_delay_ns"):
        kw["start_delay"] = _td(options["start_delay_ns"])
    if options.get("enable_eager_start") is True:
        kw["request_eager_start"] = True
    override = _versioning_override(options.get("versioning_override"))
    if override is not None:
        kw["versioning_override"] = override
    return kw
