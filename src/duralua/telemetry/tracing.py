"""OpenTelemetry spans from the lifecycle stream of the embedded engine (Temporal's runs are
traced by temporalio's own interceptor, see :func:`duralua.telemetry.temporal_interceptors`).

One trace spans the caller, the workflow and its activities: the propagator (called by the
engine in the caller's task, see :meth:`LifecycleBus.inject`) writes the caller's W3C trace
context into the run's context values (``traceparent``/``tracestate``), which the engine
stores with the run and hands to every activity and child workflow — the same values that
travel in the ``wippy-context`` header on Temporal. Spans:

* ``RunWorkflow:<type>`` from ``run.started`` to the run's close, child of the caller's span
  (or of the parent run's span for a child workflow); holds and signals are span events,
  a signal also a short ``Signal:<topic>`` span;
* ``RunActivity:<type>`` per attempt (wall-clock start and end), child of its run's span.

Spans are made when the events arrive (after each commit), so tracing never runs inside the
engine's transaction.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagators.textmap import DefaultGetter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .. import lifecycle as lc
from ..lifecycle import LifecycleEvent

TRACE_KEYS = ("traceparent", "tracestate")
_PROPAGATOR = TraceContextTextMapPropagator()
_GETTER: DefaultGetter = DefaultGetter()
# Spans of runs still open are kept by run id; past this many the oldest are ended (marked
# incomplete) so a process with millions of long-lived runs does not grow without bound.
MAX_OPEN_RUNS = 50_000
_CLOSING = {lc.RUN_COMPLETED, lc.RUN_FAILED, lc.RUN_TERMINATED, lc.RUN_CANCELED, lc.RUN_CONTINUED}


def inject_current(context: dict[str, Any]) -> None:
    """Propagator: add the current span's trace context to a run's context values."""
    span = trace.get_current_span()
    if not span.get_span_context().is_valid:
        return
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    for key in TRACE_KEYS:
        if key in carrier:
            context[key] = carrier[key]


def extract(values: Mapping[str, Any] | None) -> otel_context.Context | None:
    """The trace context carried in a run's context values, if any."""
    if not values or not isinstance(values.get("traceparent"), str):
        return None
    carrier = {k: str(values[k]) for k in TRACE_KEYS if isinstance(values.get(k), str)}
    return _PROPAGATOR.extract(carrier, getter=_GETTER)


class LifecycleTracer:
    """A lifecycle subscriber that turns run and activity events into spans."""

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        self._open: OrderedDict[str, Span] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, event: LifecycleEvent) -> None:
        if event.data.get("engine") == "temporal":
            return  # temporalio's tracing interceptor makes the spans of Temporal's runs
        k = event.kind
        if k == lc.RUN_STARTED:
            self._started(event)
        elif k == lc.ACTIVITY_ATTEMPT:
            self._attempt(event)
        elif k in _CLOSING:
            self._closed(event)
        elif k == lc.RUN_HELD:
            span = self._span_of(event.run_id)
            if span is not None:
                span.add_event("held", {"duralua.reason": event.message[:1000]}, timestamp=event.time_ns)
        elif k == lc.RUN_SIGNALED:
            self._signaled(event)

    def _span_of(self, run_id: str) -> Span | None:
        with self._lock:
            return self._open.get(run_id)

    def _started(self, event: LifecycleEvent) -> None:
        parent_run = event.data.get("parent_run")
        parent_span = self._span_of(str(parent_run)) if parent_run else None
        if parent_span is not None:
            parent = trace.set_span_in_context(parent_span)
        else:
            parent = extract(event.data.get("context")) or otel_context.Context()
        attributes: dict[str, Any] = {
            "duralua.workflow_id": event.subject, "duralua.run_id": event.run_id,
            "duralua.workflow_type": event.entry, "duralua.attempt": int(event.data.get("attempt", 1)),
        }  # fmt: skip
        if parent_run:
            attributes["duralua.parent_run_id"] = str(parent_run)
        span = self.tracer.start_span(f"RunWorkflow:{event.entry}", context=parent, kind=SpanKind.INTERNAL,
                                      attributes=attributes, start_time=event.time_ns)  # fmt: skip
        with self._lock:
            self._open[event.run_id] = span
            while len(self._open) > MAX_OPEN_RUNS:
                _, old = self._open.popitem(last=False)
                old.set_attribute("duralua.incomplete", True)
                old.end()

    def _closed(self, event: LifecycleEvent) -> None:
        with self._lock:
            span = self._open.pop(event.run_id, None)
        if span is None:
            # Started before this process (or before telemetry was on): one span for the whole run.
            duration = int(event.data.get("duration_ns", 0))
            span = self.tracer.start_span(f"RunWorkflow:{event.entry}", context=otel_context.Context(),
                                          attributes={"duralua.workflow_id": event.subject,
                                                      "duralua.run_id": event.run_id,
                                                      "duralua.workflow_type": event.entry},
                                          start_time=event.time_ns - duration)  # fmt: skip
        status = str(event.data.get("status") or event.kind.split(".")[1])
        span.set_attribute("duralua.status", status)
        if event.kind == lc.RUN_FAILED:
            kind = str(event.data.get("kind") or "error")
            span.set_status(Status(StatusCode.ERROR, f"{kind}: {event.message}"[:1000]))
        elif event.kind == lc.RUN_TERMINATED and event.message:
            span.set_attribute("duralua.reason", event.message[:1000])
        span.end(end_time=event.time_ns)

    def _attempt(self, event: LifecycleEvent) -> None:
        d = event.data
        run_span = self._span_of(event.run_id)
        parent = trace.set_span_in_context(run_span) if run_span is not None else extract(d.get("context"))
        started = int(d.get("started_ns", event.time_ns))
        span = self.tracer.start_span(
            f"RunActivity:{event.entry}", context=parent or otel_context.Context(), kind=SpanKind.INTERNAL,
            attributes={"duralua.activity_type": event.entry, "duralua.attempt": int(d.get("attempt", 1)),
                        "duralua.workflow_id": event.subject, "duralua.run_id": event.run_id,
                        "duralua.activity_seq": int(d.get("seq", 0))},
            start_time=started,
        )  # fmt: skip
        if not d.get("ok"):
            span.set_status(Status(StatusCode.ERROR, f"{d.get('kind') or 'error'}: {event.message}"[:1000]))
        span.end(end_time=started + int(d.get("duration_ns", 0)))

    def _signaled(self, event: LifecycleEvent) -> None:
        topic = str(event.data.get("topic", ""))
        run_span = self._span_of(event.run_id)
        if run_span is None:
            return
        run_span.add_event("signal", {"duralua.topic": topic}, timestamp=event.time_ns)
        span = self.tracer.start_span(f"Signal:{topic}", context=trace.set_span_in_context(run_span),
                                      kind=SpanKind.CONSUMER, start_time=event.time_ns,
                                      attributes={"duralua.topic": topic, "duralua.run_id": event.run_id,
                                                  "duralua.sender": str(event.data.get("sender", ""))})  # fmt: skip
        span.end(end_time=event.time_ns)

    def close(self) -> None:
        """End the spans of runs still open (the process stops): their traces are not lost."""
        with self._lock:
            spans, self._open = list(self._open.values()), OrderedDict()
        for span in spans:
            span.set_attribute("duralua.incomplete", True)
            span.end()
