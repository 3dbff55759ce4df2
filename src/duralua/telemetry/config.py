"""Telemetry settings: the app's ``.wippy.yaml`` (``otel:`` / ``prometheus:``), then ``OTEL_*``
and ``DURALUA_*`` environment overrides, then command-line flags.

Nothing here imports OpenTelemetry or prometheus-client: reading the settings must work
without the ``duralua[otel]`` extra (and then tell the user to install it).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, Location

RUNTIME_CONFIG = ".wippy.yaml"
EXTRA_HINT = "install the extra: pip install 'duralua[otel]'"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass
class TelemetryConfig:
    tracing: bool = False
    service_name: str = "duralua"
    # "otlp" (OTLP over HTTP/protobuf), "console" (stderr) or "none" (spans made, not exported:
    # for an exporter the embedding program adds itself).
    exporter: str = "otlp"
    endpoint: str | None = None  # None: the exporter's own default or OTEL_EXPORTER_OTLP_* variables
    sample_rate: float = 1.0
    http_spans: bool = True
    metrics: bool = False
    metrics_address: str | None = None  # host:port of a /metrics listener of its own

    @property
    def enabled(self) -> bool:
        return self.tracing or self.metrics


def tracing_installed() -> bool:
    return importlib.util.find_spec("opentelemetry.sdk") is not None


def metrics_installed() -> bool:
    return importlib.util.find_spec("prometheus_client") is not None


def _flag(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{where} must be true or false, not {value!r}", location=Location(RUNTIME_CONFIG))


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = data.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name}: must be a mapping", location=Location(RUNTIME_CONFIG))
    return value


def _read_runtime_config(root: Path | None) -> Mapping[str, Any]:
    if root is None:
        return {}
    path = root / RUNTIME_CONFIG
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse {RUNTIME_CONFIG}: {exc}", location=Location(RUNTIME_CONFIG)) from None
    return data if isinstance(data, Mapping) else {}


def load_config(root: str | Path | None, env: Mapping[str, str]) -> TelemetryConfig:
    """Settings for the app at ``root`` (None: defaults and the environment only)."""
    data = _read_runtime_config(Path(root) if root is not None else None)
    otel, prom = _section(data, "otel"), _section(data, "prometheus")
    cfg = TelemetryConfig()
    if "enabled" in otel:
        cfg.tracing = _flag(otel["enabled"], "otel.enabled")
    if "traces_enabled" in otel:
        cfg.tracing = cfg.tracing and _flag(otel["traces_enabled"], "otel.traces_enabled")
    if otel.get("service_name"):
        cfg.service_name = str(otel["service_name"])
    if otel.get("endpoint"):
        cfg.endpoint = str(otel["endpoint"])
    if otel.get("exporter"):
        cfg.exporter = str(otel["exporter"])
    if "sample_rate" in otel:
        cfg.sample_rate = float(otel["sample_rate"])
    http = _section(otel, "http")
    if "enabled" in http:
        cfg.http_spans = _flag(http["enabled"], "otel.http.enabled")
    if "enabled" in prom:
        cfg.metrics = _flag(prom["enabled"], "prometheus.enabled")
    if prom.get("address"):
        cfg.metrics_address = str(prom["address"])

    # The standard OpenTelemetry variables win over the file (the SDK reads the rest itself:
    # OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_*...).
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        cfg.tracing = False
    if env.get("DURALUA_OTEL", ""):
        cfg.tracing = _flag(env["DURALUA_OTEL"], "DURALUA_OTEL")
    if env.get("OTEL_SERVICE_NAME"):
        cfg.service_name = env["OTEL_SERVICE_NAME"]
    traces_exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if traces_exporter:
        cfg.exporter = traces_exporter.split(",")[0]
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        cfg.endpoint = None  # let the exporter read the variables (it appends /v1/traces correctly)
    if env.get("OTEL_TRACES_SAMPLER_ARG"):
        cfg.sample_rate = float(env["OTEL_TRACES_SAMPLER_ARG"])
    if env.get("DURALUA_PROMETHEUS", ""):
        cfg.metrics = _flag(env["DURALUA_PROMETHEUS"], "DURALUA_PROMETHEUS")
    if env.get("DURALUA_PROMETHEUS_ADDRESS"):
        cfg.metrics = True
        cfg.metrics_address = env["DURALUA_PROMETHEUS_ADDRESS"]
    if cfg.exporter not in ("otlp", "console", "none"):
        raise ConfigError(f"otel exporter must be otlp, console or none, not {cfg.exporter!r}",
                          location=Location(RUNTIME_CONFIG))  # fmt: skip
    if not 0.0 <= cfg.sample_rate <= 1.0:
        raise ConfigError("otel.sample_rate must be between 0 and 1", location=Location(RUNTIME_CONFIG))
    return cfg


def split_address(address: str, default_port: int) -> tuple[str, int]:
    """``host:port``, ``:port``, ``port`` or ``host`` → (host, port); the host defaults to 127.0.0.1."""
    text = address.strip()
    if text.startswith("["):  # [::1]:9090
        host, _, rest = text[1:].partition("]")
        port_text = rest.lstrip(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif text.isdigit():
        host, port_text = "", text
    else:
        host, port_text = text, ""
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise ConfigError(f"bad address {address!r}: the port must be a number", hint="e.g. 127.0.0.1:9464") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"bad address {address!r}: port out of range")
    return host or "127.0.0.1", port
