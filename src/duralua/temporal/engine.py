"""The Engine protocol over temporalio clients: what callers use to reach workflows on Temporal.

``process.spawn``/``exec``/``send`` from Lua functions, ``duralua workflow ...`` and the Python
API all go through :class:`TemporalEngine` when the app is served with ``--engine temporal``.
PIDs are ``{<client entry id>@<worker entry id>|<workflow id>}`` (spec workflows.md §2); the
workflow ID is the PID's ``uniq`` and the run is always the latest run of that ID.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryReverseRequest
from temporalio.client import (
    Client,
    WorkflowContinuedAsNewError,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import TimeoutError as TemporalTimeoutError
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from ..catalog import Catalog, WorkerDef
from ..codec import DEFAULT_PAYLOAD_LIMIT, JSONValue, encode
from ..core.machine import search_attribute_type
from ..core.pid import PID, format_uniq, parse_pid
from ..core.validate import check_topic, check_workflow_id
from ..engine import RunSummary, StartRequest
from ..errors import (
    ALREADY_EXISTS,
    INTERNAL,
    INVALID,
    TIMEOUT,
    UNAVAILABLE,
    CallError,
    ConfigError,
    EncodeError,
    Failure,
    WorkflowNotFound,
    not_found,
)
from . import search
from .converter import CONTEXT_HEADER, ORIGIN_HEADER, SENDER_HEADER, failure_from_error, make_headers
from .interceptors import outgoing_headers
from .options import CONFLICT, start_kwargs

STATUS = {
    WorkflowExecutionStatus.RUNNING: "running",
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "canceled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "continued",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
}
_QUERY_STATUS = {
    "running": "Running",
    "held": "Running",
    "completed": "Completed",
    "failed": "Failed",
    "canceled": "Canceled",
    "terminated": "Terminated",
    "continued": "ContinuedAsNew",
    "timed_out": "TimedOut",
}


def _ns(when: datetime | None) -> int | None:
    return int(when.timestamp() * 1_000_000_000) if when is not None else None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _rpc_failure(exc: RPCError, what: str) -> Failure:
    if exc.status == RPCStatusCode.NOT_FOUND:
        return not_found(f"{what}: not found or not running")
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return Failure(f"temporal client not available: {exc.message}", UNAVAILABLE, True)
    if exc.status == RPCStatusCode.INVALID_ARGUMENT:
        return Failure(f"{what}: {exc.message}", INVALID, False)
    return Failure(f"{what}: {exc.message}", INTERNAL, None)


class TemporalEngine:
    """A durable workflow engine backed by Temporal, as seen by callers (``duralua.engine.Engine``)."""

    def __init__(
        self,
        catalog: Catalog,
        clients: Mapping[str, Client],
        *,
        payload_limit: int = DEFAULT_PAYLOAD_LIMIT,
        schemas: Mapping[str, dict[str, str]] | None = None,
    ) -> None:
        self.catalog = catalog
        self.clients = dict(clients)
        self.payload_limit = payload_limit
        self._schemas: dict[str, dict[str, str] | None] = dict(schemas or {})
        # Generated workflow ids: one random prefix per engine instance, then a hex counter.
        self._instance = str(uuid.uuid4())
        self._counter = itertools.count(1)

    # -- routing -------------------------------------------------------------------------------

    def owns(self, pid: str) -> bool:
        p = parse_pid(pid)
        if p is None:
            return False
        return (
            p.node in self.clients
            or p.host in self.catalog.workers
            or p.host in self.catalog.queues
            or p.host == "temporal"
        )

    def _client(self, client_id: str) -> Client:
        client = self.clients.get(client_id)
        if client is None:
            raise CallError(
                Failure(
                    f"temporal client not available: {client_id or '(none)'} is not connected",
                    UNAVAILABLE,
                    True,
                )
            )
        return client

    def _target(self, pid_or_id: str) -> tuple[Client, str]:
        """The client to use for a PID (by node, then host) or a bare workflow id, and the id."""
        p = parse_pid(pid_or_id)
        if p is None:
            workflow_id, client_id = pid_or_id, ""
        else:
            workflow_id = p.uniq
            worker = self.catalog.workers.get(p.host) or self.catalog.queues.get(p.host)
            client_id = p.node if p.node in self.clients else (worker.client_id if worker else "")
        if not client_id:
            if len(self.clients) != 1:
                raise CallError(not_found(f"no temporal client for {pid_or_id}"))
            client_id = next(iter(self.clients))
        return self._client(client_id), workflow_id

    def _handle(self, pid_or_id: str) -> tuple[WorkflowHandle[Any, Any], str]:
        handle = self.handle(pid_or_id)
        return handle, handle.id

    def client_for(self, pid_or_id: str) -> Client:
        """The client that serves a PID or a workflow id (the CLI's routing is the engine's)."""
        return self._target(pid_or_id)[0]

    def handle(self, pid_or_id: str, run_id: str | None = None) -> WorkflowHandle[Any, Any]:
        """The handle of a workflow (one run of it with ``run_id``) by PID or workflow id."""
        client, workflow_id = self._target(pid_or_id)
        return client.get_workflow_handle(workflow_id, run_id=run_id)

    async def _schema(self, client_id: str) -> dict[str, str] | None:
        if client_id not in self._schemas:
            client = self._client(client_id)
            try:
                self._schemas[client_id] = await search.fetch_schema(client, client.namespace)
            except RPCError:
                self._schemas[client_id] = None
        return self._schemas[client_id]

    def new_workflow_id(self) -> str:
        return f"{self._instance}_{format_uniq(next(self._counter))}"

    def _pid_of(self, workflow_id: str, task_queue: str, client: Client | None = None) -> str:
        worker = self.catalog.worker_for_queue(task_queue)
        client_id = worker.client_id if worker else next((k for k, c in self.clients.items() if c is client), "")
        return str(PID(client_id, worker.id if worker else task_queue, workflow_id))

    # -- starting ------------------------------------------------------------------------------

    def _validate(self, request: StartRequest) -> WorkerDef:
        worker = self.catalog.workers.get(request.worker_id)
        if worker is None:
            raise CallError(
                Failure(
                    f"host not found: {request.worker_id} is not a temporal.worker of this app",
                    "NotFound",
                    False,
                )
            )
        # The same checks, in the same order, as the embedded engine: both refuse alike.
        if request.workflow_id is not None:
            bad = check_workflow_id(request.workflow_id)
            if bad is not None:
                raise CallError(bad)
        for topic, _payloads in request.messages:
            bad = check_topic(topic)
            if bad is not None:
                raise CallError(bad)
        wf = self.catalog.workflows.get(request.workflow_type)
        if wf is None:
            raise CallError(
                Failure(
                    f"workflow {request.workflow_type} not found (no workflow.lua entry with that id names a worker)",
                    "NotFound",
                    False,
                )
            )
        if wf.worker_id != request.worker_id and request.options.get("task_queue") is None:
            raise CallError(
                Failure(
                    f"workflow {request.workflow_type} is registered on {wf.worker_id}, not on {request.worker_id}",
                    INVALID,
                    False,
                )
            )
        try:
            encode(request.args, path="input", limit=self.payload_limit)
            for topic, payloads in request.messages:
                encode(payloads, path=f"message {topic}", limit=self.payload_limit)
        except EncodeError as exc:
            raise CallError(Failure(str(exc), INVALID, False)) from None
        for key, value in (request.options.get("search_attributes") or {}).items():
            if search_attribute_type(value) is None:
                raise CallError(Failure(f"search attribute {key}: unsupported value type", INVALID, False))
        return worker

    async def start_workflow(self, request: StartRequest) -> str:
        """Start a run (or join/replace a running one per the conflict policy, spec §3.2)."""
        worker = self._validate(request)
        client = self._client(worker.client_id)
        options = dict(request.options)
        generated = request.workflow_id is None
        workflow_id = request.workflow_id or self.new_workflow_id()
        policy = options.get("id_conflict_policy")
        if options.get("id_reuse_policy") == "terminate_if_running":
            # The server refuses it beside any conflict policy; alone it terminates a running run.
            policy = "unspecified"
        elif policy is None:
            error_when_started = options.get("execution_error_when_already_started", generated)
            policy = "fail" if error_when_started else "use_existing"
        try:
            schema = await self._schema(worker.client_id) if options.get("search_attributes") else None
            kwargs = start_kwargs(options, schema)
        except (ConfigError, ValueError) as exc:
            raise CallError(Failure(str(exc), INVALID, False)) from None
        messages = list(request.messages)
        headers = make_headers(
            {
                CONTEXT_HEADER: request.context,
                ORIGIN_HEADER: {"client_id": worker.client_id, "worker_id": request.worker_id},
                SENDER_HEADER: request.sender if messages else "",
            }
        )
        # Signal-with-start cannot express the "fail" policy (spec §4 caveat): then start
        # plainly, which fails only if a run is running, and send every message afterwards.
        first = messages.pop(0) if messages and policy not in ("fail", "unspecified") else None
        token = outgoing_headers.set(headers)
        try:
            await client.start_workflow(
                request.workflow_type,
                args=list(request.args),
                id=workflow_id,
                task_queue=str(options.get("task_queue") or worker.task_queue),
                id_conflict_policy=CONFLICT[policy],
                start_signal=first[0] if first else None,
                start_signal_args=list(first[1]) if first else [],
                **kwargs,
            )
        except WorkflowAlreadyStartedError:
            raise CallError(
                Failure(
                    f"workflow {workflow_id} is already running (or its id may not be reused)",
                    ALREADY_EXISTS,
                    False,
                )
            ) from None
        except RPCError as exc:
            raise CallError(_rpc_failure(exc, f"cannot start workflow {request.workflow_type}")) from None
        finally:
            outgoing_headers.reset(token)
        for topic, payloads in messages:
            await self._send(client, workflow_id, topic, list(payloads), request.sender)
        return str(PID(worker.client_id, request.worker_id, workflow_id))

    # -- signals and control -------------------------------------------------------------------

    async def signal(self, pid: str, topic: str, payloads: list[JSONValue], sender: str = "") -> None:
        bad = check_topic(topic)
        if bad is not None:
            raise CallError(bad)
        try:
            encode(payloads, path="payload", limit=self.payload_limit)
        except EncodeError as exc:
            raise CallError(Failure(str(exc), INVALID, False)) from None
        client, workflow_id = self._target(pid)
        await self._send(client, workflow_id, topic, payloads, sender)

    async def _send(self, client: Client, workflow_id: str, topic: str, payloads: list[JSONValue], sender: str) -> None:
        token = outgoing_headers.set(make_headers({SENDER_HEADER: sender}))
        try:
            await client.get_workflow_handle(workflow_id).signal(topic, args=payloads)
        except RPCError as exc:
            raise CallError(_rpc_failure(exc, f"workflow {workflow_id}")) from None
        finally:
            outgoing_headers.reset(token)

    async def terminate(self, pid: str, reason: str = "") -> None:
        handle, workflow_id = self._handle(pid)
        try:
            await handle.terminate(reason=reason or "terminated")
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return  # already closed (or never existed): nothing to terminate
            raise CallError(_rpc_failure(exc, f"workflow {workflow_id}")) from None

    async def cancel(self, pid: str) -> None:
        handle, workflow_id = self._handle(pid)
        try:
            await handle.cancel()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return
            raise CallError(_rpc_failure(exc, f"workflow {workflow_id}")) from None

    # -- results and queries -------------------------------------------------------------------

    async def result(self, pid: str) -> tuple[JSONValue, Failure | None]:
        """Wait for the outcome of the latest run, following continue-as-new and retries."""
        handle, workflow_id = self._handle(pid)
        return await self._outcome(handle, workflow_id)

    async def _outcome(
        self, handle: WorkflowHandle[Any, Any], workflow_id: str, follow_runs: bool = True
    ) -> tuple[JSONValue, Failure | None]:
        try:
            return await handle.result(follow_runs=follow_runs), None
        except WorkflowContinuedAsNewError:
            # A closed cron run names its successor; its own outcome is in its last event.
            return await self._cron_outcome(handle)
        except WorkflowFailureError as exc:
            if isinstance(exc.cause, TemporalTimeoutError):
                return None, await self._timeout_failure(handle)
            return None, failure_from_error(exc.cause, what="workflow")
        except RPCError as exc:
            raise CallError(_rpc_failure(exc, f"workflow {workflow_id}")) from None

    async def _cron_outcome(self, handle: WorkflowHandle[Any, Any]) -> tuple[JSONValue, Failure | None]:
        client, _ = self._target(handle.id)
        request = GetWorkflowExecutionHistoryReverseRequest(
            namespace=client.namespace,
            execution=WorkflowExecution(workflow_id=handle.id, run_id=handle.run_id or ""),
            maximum_page_size=1,
        )
        try:
            resp = await client.workflow_service.get_workflow_execution_history_reverse(request)
        except RPCError as exc:
            raise CallError(_rpc_failure(exc, f"workflow {handle.id}")) from None
        converter = client.data_converter
        for event in resp.history.events:
            if event.HasField("workflow_execution_completed_event_attributes"):
                values = await converter.decode(event.workflow_execution_completed_event_attributes.result.payloads)
                return (values[0] if values else None), None
            if event.HasField("workflow_execution_failed_event_attributes"):
                cause = await converter.decode_failure(event.workflow_execution_failed_event_attributes.failure)
                return None, failure_from_error(cause, what="workflow")
            if event.HasField("workflow_execution_timed_out_event_attributes"):
                return None, await self._timeout_failure(handle)
        return None, None

    async def _timeout_failure(self, handle: WorkflowHandle[Any, Any]) -> Failure:
        """Which timeout closed the run: Temporal reports both as start_to_close, the
        expiration times it keeps tell them apart (the embedded engine says the same)."""
        which = "run"
        try:
            # A handle without a run id describes the latest run: the one result() followed to.
            desc = await handle.describe()
            ext = desc.raw_description.workflow_extended_info
            closed = desc.close_time
            if ext.HasField("execution_expiration_time") and closed is not None and \
                    closed >= ext.execution_expiration_time.ToDatetime(tzinfo=closed.tzinfo):  # fmt: skip
                which = "execution"
        except RPCError:
            pass
        return Failure(f"workflow {which} timeout", TIMEOUT, False, {"timeout_type": which})

    # -- updates and queries -------------------------------------------------------------------

    async def update(
        self, pid: str, name: str, payloads: list[JSONValue], *, update_id: str | None = None
    ) -> tuple[JSONValue, Failure | None]:
        """A Temporal Update (spec §7.6): ``(result, None)`` after the workflow's ``ok``,
        ``(None, failure)`` after ``nak``/``error`` or when the run ends first."""
        bad = check_topic(name)
        if bad is not None:
            raise CallError(Failure(bad.message.replace("signal topic", "update name"), INVALID, False))
        try:
            encode(payloads, path="update arguments", limit=self.payload_limit)
        except EncodeError as exc:
            raise CallError(Failure(str(exc), INVALID, False)) from None
        handle, workflow_id = self._handle(pid)
        try:
            return await handle.execute_update(name, args=list(payloads), id=update_id), None
        except WorkflowUpdateFailedError as exc:
            return None, failure_from_error(exc.cause, what="update")
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                # As the embedded engine refuses an update for a run that is not running.
                raise CallError(not_found(f"workflow {workflow_id} is not running")) from None
            raise CallError(_rpc_failure(exc, f"workflow {workflow_id}")) from None

    async def query(self, pid: str, name: str) -> JSONValue:
        handle, workflow_id = self._handle(pid)
        try:
            value: JSONValue = await handle.query(name)
        except WorkflowQueryFailedError as exc:
            raise CallError(Failure(str(exc.message), INVALID, False)) from None
        except RPCError as exc:
            raise CallError(_rpc_failure(exc, f"workflow {workflow_id}")) from None
        return value

    async def describe(self, pid_or_id: str) -> RunSummary:
        handle, workflow_id = self._handle(pid_or_id)
        try:
            desc = await handle.describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise WorkflowNotFound(
                    f"no workflow with id {workflow_id}", hint="`temporal workflow list` shows the known runs"
                ) from None
            raise CallError(_rpc_failure(exc, f"workflow {workflow_id}")) from None
        client, _ = self._target(pid_or_id)
        return await self._summary(client, desc, with_outcome=True)

    async def _summary(self, client: Client, desc: WorkflowExecutionDescription, *, with_outcome: bool) -> RunSummary:
        status = STATUS.get(desc.status, "running") if desc.status is not None else "running"
        summary = RunSummary(
            workflow_id=desc.id,
            run_id=desc.run_id,
            workflow_type=desc.workflow_type,
            status=status,
            pid=self._pid_of(desc.id, desc.task_queue, client),
            task_queue=desc.task_queue,
            start_time_ns=_ns(desc.start_time) or 0,
            close_time_ns=_ns(desc.close_time),
            search={pair.key.name: _plain(pair.value) for pair in desc.typed_search_attributes},
            memo=dict(await desc.memo()),
        )
        if status == "running" and desc.raw_description.pending_workflow_task.attempt > 1:
            # The workflow task keeps failing: the run is held until the code is fixed.
            summary.status = "held"
            summary.reason = await self._task_failure(client, desc)
        elif status not in ("running", "continued") and with_outcome:
            handle = client.get_workflow_handle(desc.id, run_id=desc.run_id)
            summary.result, summary.failure = await self._outcome(handle, desc.id, follow_runs=False)
            if summary.failure is not None:
                summary.reason = summary.failure.message
        return summary

    async def _task_failure(self, client: Client, desc: WorkflowExecutionDescription) -> str:
        """The message of the latest failed workflow task (e.g. the non-determinism)."""
        request = GetWorkflowExecutionHistoryReverseRequest(
            namespace=desc.namespace,
            execution=WorkflowExecution(workflow_id=desc.id, run_id=desc.run_id),
            maximum_page_size=100,
        )
        try:
            resp = await client.workflow_service.get_workflow_execution_history_reverse(request)
        except RPCError as exc:
            return f"workflow task failing (history unavailable: {exc.message})"
        for event in resp.history.events:
            if event.HasField("workflow_task_failed_event_attributes"):
                return f"workflow task failed: {event.workflow_task_failed_event_attributes.failure.message}"
        return "workflow task failing"

    async def list_runs(
        self,
        *,
        status: str | None = None,
        workflow_type: str | None = None,
        query: dict[str, Any] | None = None,
    ) -> list[RunSummary]:
        clauses = []
        if status:
            if status not in _QUERY_STATUS:
                raise CallError(Failure(f"unknown status {status!r}", INVALID, False))
            clauses.append(f"ExecutionStatus = '{_QUERY_STATUS[status]}'")
        if workflow_type:
            clauses.append(f"WorkflowType = {_literal(workflow_type)}")
        for key, value in (query or {}).items():
            clauses.append(f"{key} = {_literal(value)}")
        text = " AND ".join(clauses) or None
        out: list[RunSummary] = []
        seen: set[tuple[str, str]] = set()
        for client in self.clients.values():
            scope = (client.service_client.config.target_host, client.namespace)
            if scope in seen:
                continue
            seen.add(scope)
            async for execution in _listing(client, text):
                handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
                try:
                    desc = await handle.describe()
                except RPCError:
                    continue
                summary = await self._summary(client, desc, with_outcome=False)
                if status == "held" and summary.status != "held":
                    continue
                if status == "running" and summary.status == "held":
                    continue
                out.append(summary)
        return out


async def _listing(client: Client, query: str | None) -> AsyncIterator[Any]:
    async for execution in client.list_workflows(query):
        yield execution
