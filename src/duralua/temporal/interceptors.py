"""Headers in and out: context values, the sender of a message, and a workflow's PID parts.

The Python SDK exposes headers only to interceptors, so every header duralua reads or writes
passes here (spec workflows.md §5):

* client side — :data:`outgoing_headers` is a context variable the engine sets around a start
  or a signal; the client interceptor copies it into the request;
* workflow side — the outbound interceptor asks the running workflow for the headers of each
  activity, child, external signal and continue-as-new, and the inbound interceptor hands a
  signal's sender to the workflow just before its handler runs;
* activity side — the inbound interceptor puts the context values from the header in
  :data:`activity_context` for the dynamic activity.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from typing import Any, NoReturn, Protocol

import temporalio.client
import temporalio.worker
from temporalio import workflow
from temporalio.worker import (
    ActivityInboundInterceptor,
    ContinueAsNewInput,
    ExecuteActivityInput,
    HandleSignalInput,
    SignalExternalWorkflowInput,
    StartActivityInput,
    StartChildWorkflowInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from .converter import Payload, header_context, header_sender

#: Header payloads to add to the next client call (start, signal-with-start, signal).
outgoing_headers: contextvars.ContextVar[Mapping[str, Payload] | None] = contextvars.ContextVar(
    "duralua_outgoing_headers", default=None
)

#: Context values of the activity running in this asyncio task.
activity_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "duralua_activity_context", default=None
)


class HeaderSource(Protocol):
    """What the dynamic workflow offers the interceptors (duck-typed via workflow.instance())."""

    def duralua_headers(self, kind: str, task_queue: str | None) -> Mapping[str, Payload]: ...

    def duralua_set_sender(self, sender: str) -> None: ...


def _merge(headers: Mapping[str, Payload], extra: Mapping[str, Payload] | None) -> Mapping[str, Payload]:
    if not extra:
        return headers
    return {**headers, **extra}


def _source() -> HeaderSource | None:
    inst = workflow.instance()
    return inst if hasattr(inst, "duralua_headers") else None


# ---------------------------------------------------------------------------------------------
# Client
# ---------------------------------------------------------------------------------------------


class _ClientOutbound(temporalio.client.OutboundInterceptor):
    async def start_workflow(
        self, input: temporalio.client.StartWorkflowInput
    ) -> temporalio.client.WorkflowHandle[Any, Any]:
        input.headers = _merge(input.headers, outgoing_headers.get())
        return await super().start_workflow(input)

    async def signal_workflow(self, input: temporalio.client.SignalWorkflowInput) -> None:
        input.headers = _merge(input.headers, outgoing_headers.get())
        await super().signal_workflow(input)


class ClientInterceptor(temporalio.client.Interceptor):
    def intercept_client(self, next: temporalio.client.OutboundInterceptor) -> temporalio.client.OutboundInterceptor:
        return _ClientOutbound(next)


# ---------------------------------------------------------------------------------------------
# Worker
# ---------------------------------------------------------------------------------------------


class _ActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        token = activity_context.set(header_context(input.headers))
        try:
            return await super().execute_activity(input)
        finally:
            activity_context.reset(token)


class _WorkflowOutbound(WorkflowOutboundInterceptor):
    def _headers(self, kind: str, task_queue: str | None = None) -> Mapping[str, Payload] | None:
        source = _source()
        return source.duralua_headers(kind, task_queue) if source is not None else None

    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
        input.headers = _merge(input.headers, self._headers("activity"))
        return super().start_activity(input)

    def start_local_activity(self, input: StartLocalActivityInput) -> workflow.ActivityHandle[Any]:
        input.headers = _merge(input.headers, self._headers("activity"))
        return super().start_local_activity(input)

    async def start_child_workflow(self, input: StartChildWorkflowInput) -> workflow.ChildWorkflowHandle[Any, Any]:
        input.headers = _merge(input.headers, self._headers("child", input.task_queue))
        return await super().start_child_workflow(input)

    async def signal_external_workflow(self, input: SignalExternalWorkflowInput) -> None:
        input.headers = _merge(input.headers, self._headers("signal"))
        await super().signal_external_workflow(input)

    def continue_as_new(self, input: ContinueAsNewInput) -> NoReturn:
        input.headers = _merge(input.headers, self._headers("continue"))
        super().continue_as_new(input)


class _WorkflowInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound))

    async def handle_signal(self, input: HandleSignalInput) -> None:
        # The dynamic signal handler is synchronous, so nothing runs between handing over the
        # sender and the handler reading it.
        source = _source()
        if source is not None:
            source.duralua_set_sender(header_sender(input.headers))
        await super().handle_signal(input)


class WorkerInterceptor(temporalio.worker.Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityInbound(next)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _WorkflowInbound
