"""Telemetry: OpenTelemetry traces and Prometheus metrics, both optional (``duralua[otel]``).

Importing this package imports neither library; :class:`Telemetry` imports them only for
what its configuration turns on, and says which extra to install when they are missing.
Everything is fed by the app's lifecycle stream (:mod:`duralua.lifecycle`): the engines
emit, telemetry subscribes.

```python
tel = Telemetry(load_config(app_dir, os.environ))
tel.attach(app.lifecycle)             # spans + counters for every engine of the app
tel.watch_database(".duralua/duralua.db")   # gauges read at scrape time
body = tel.metrics_text()             # what /metrics serves
```
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..lifecycle import LifecycleBus
from .config import EXTRA_HINT, TelemetryConfig, load_config, metrics_installed, split_address, tracing_installed

if TYPE_CHECKING:
    from .metrics import LifecycleMetrics, StoreCollector
    from .tracing import LifecycleTracer

__all__ = ["Telemetry", "TelemetryConfig", "current", "load_config", "temporal_interceptors"]

_current: Telemetry | None = None
DEFAULT_METRICS_PORT = 9464  # the port OpenTelemetry's Prometheus exporter uses by default


def current() -> Telemetry | None:
    """The telemetry of this process (set by :meth:`Telemetry.install`), if any."""
    return _current


def temporal_interceptors() -> list[Any]:
    """Interceptors the Temporal clients of this process add: temporalio's tracing interceptor
    when tracing is on (a client interceptor that is also a worker interceptor, so workers
    built on the client trace workflows and activities too)."""
    tel = _current
    return tel.temporal_interceptors() if tel is not None else []


class Telemetry:
    def __init__(
        self,
        config: TelemetryConfig | None = None,
        *,
        tracer_provider: Any = None,
        registry: Any = None,
    ) -> None:
        """``tracer_provider``/``registry``: use these (tests, an embedding program) instead of
        building an exporter from the configuration; passing one turns that part on."""
        self.config = config or TelemetryConfig()
        if tracer_provider is not None:
            self.config.tracing = True
        if registry is not None:
            self.config.metrics = True
        self.tracer: Any = None
        self.lifecycle_tracer: LifecycleTracer | None = None
        self.metrics: LifecycleMetrics | None = None
        self.registry: Any = None
        self._owned_provider: Any = None
        self._detach: list[Callable[[], None]] = []
        self._collectors: list[StoreCollector] = []
        self._metrics_server: Any = None
        self._lock = threading.Lock()
        if self.config.tracing:
            if not tracing_installed():
                raise ConfigError("tracing is on (otel.enabled) but OpenTelemetry is not installed", hint=EXTRA_HINT)
            from .tracing import LifecycleTracer

            provider = tracer_provider if tracer_provider is not None else self._make_provider()
            self.tracer = provider.get_tracer("duralua")
            self.lifecycle_tracer = LifecycleTracer(self.tracer)
        if self.config.metrics:
            if not metrics_installed():
                raise ConfigError("metrics are on (prometheus.enabled) but prometheus-client is not installed",
                                  hint=EXTRA_HINT)  # fmt: skip
            from .metrics import LifecycleMetrics, new_registry

            self.registry = registry if registry is not None else new_registry()
            self.metrics = LifecycleMetrics(self.registry)

    @classmethod
    def from_env(cls, root: str | Path | None = None, env: Mapping[str, str] | None = None) -> Telemetry:
        return cls(load_config(root, os.environ if env is None else env))

    @property
    def active(self) -> bool:
        return self.lifecycle_tracer is not None or self.metrics is not None

    def _make_provider(self) -> Any:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        cfg = self.config
        provider = TracerProvider(resource=Resource.create({"service.name": cfg.service_name}),
                                  sampler=ParentBased(TraceIdRatioBased(cfg.sample_rate)))  # fmt: skip
        if cfg.exporter == "otlp":
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            except ImportError:
                raise ConfigError("the OTLP exporter is not installed", hint=EXTRA_HINT) from None
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=_traces_url(cfg.endpoint))))
        elif cfg.exporter == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        self._owned_provider = provider
        # Let other libraries of the process (temporalio's interceptor, the user's own code)
        # trace into the same provider, unless the program already set one.
        if type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider":
            trace.set_tracer_provider(provider)
        return provider

    # -- wiring -------------------------------------------------------------------------------

    def install(self) -> Telemetry:
        """Make this the process's telemetry (Temporal clients pick up its interceptors)."""
        global _current
        _current = self
        return self

    def attach(self, bus: LifecycleBus) -> None:
        """Subscribe to an app's lifecycle stream and propagate trace context into its runs."""
        if self.lifecycle_tracer is not None:
            from .tracing import inject_current

            self._detach.append(bus.subscribe(self.lifecycle_tracer))
            self._detach.append(bus.add_propagator(inject_current))
        if self.metrics is not None:
            self._detach.append(bus.subscribe(self.metrics))

    def watch_database(self, db_path: str | Path) -> None:
        """Gauges of the embedded engine's database (runs by status, timers, activities pending)."""
        if self.registry is None:
            return
        from .metrics import register_store

        self._collectors.append(register_store(self.registry, db_path))

    def metrics_text(self) -> bytes:
        if self.registry is None:
            return b""
        from .metrics import render

        return render(self.registry)

    def serve_metrics(self, address: str) -> tuple[str, int]:
        """Serve ``/metrics`` on an address of its own (a thread); returns the bound (host, port)."""
        if self.registry is None:
            raise ConfigError("metrics are off", hint="set prometheus.enabled in .wippy.yaml or pass --metrics")
        from prometheus_client import start_http_server

        host, port = split_address(address, DEFAULT_METRICS_PORT)
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        self._metrics_server = (server, thread)
        bound = server.server_address
        return str(bound[0]), int(bound[1])

    @contextlib.contextmanager
    def http_span(self, method: str, path: str, headers: Mapping[str, str]) -> Iterator[Any]:
        """A SERVER span for one HTTP request, current while the handler runs (None without tracing)."""
        if self.tracer is None or not self.config.http_spans:
            yield None
            return
        from opentelemetry.trace import SpanKind

        from .tracing import extract

        parent = extract(headers)
        attributes = {"http.request.method": method, "url.path": path}
        if "user-agent" in headers:
            attributes["user_agent.original"] = headers["user-agent"]
        with self.tracer.start_as_current_span(f"{method} {path}", context=parent, kind=SpanKind.SERVER,
                                               attributes=attributes) as span:  # fmt: skip
            yield span

    def temporal_interceptors(self) -> list[Any]:
        if self.tracer is None:
            return []
        from temporalio.contrib.opentelemetry import TracingInterceptor

        return [TracingInterceptor(self.tracer)]

    def close(self) -> None:
        global _current
        for detach in self._detach:
            detach()
        self._detach.clear()
        if self.lifecycle_tracer is not None:
            self.lifecycle_tracer.close()
        for collector in self._collectors:
            collector.close()
        if self._metrics_server is not None:
            server, thread = self._metrics_server
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
            self._metrics_server = None
        if self._owned_provider is not None:
            self._owned_provider.shutdown()
            self._owned_provider = None
        if _current is self:
            _current = None


def _traces_url(endpoint: str | None) -> str | None:
    """Wippy writes ``localhost:4318``; the exporter wants ``http://localhost:4318/v1/traces``."""
    if not endpoint:
        return None
    url = endpoint if "://" in endpoint else f"http://{endpoint}"
    scheme, _, rest = url.partition("://")
    if "/" not in rest:
        url = f"{scheme}://{rest}/v1/traces"
    return url
