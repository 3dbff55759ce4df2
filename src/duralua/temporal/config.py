"""Registry entry data (``temporal.client``, ``temporal.worker``) and retry tables -> temporalio.

Pure functions over plain mappings (spec registry.md §9-§10, workflows.md §3.3). Invalid data
raises :class:`~duralua.errors.ConfigError` located at the entry and naming the field. Settings
the Python SDK cannot honour are not errors: they come back as human-readable notes (see
:func:`client_notes` and :func:`worker_kwargs`) for the caller to log once at start-up.

Durations are Go duration strings (``"10s"``, ``"1m30s"``) or numbers of milliseconds, as in
the registry checker (``registry.kinds``) and Lua option tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import KeepAliveConfig, TLSConfig
from temporalio.common import RetryPolicy, VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import PollerBehaviorSimpleMaximum, WorkerDeploymentConfig

from ..durations import DurationError, parse_option
from ..errors import ConfigError, Location
from ..registry.env import resolve_env

__all__ = [
    "client_connect_kwargs",
    "client_notes",
    "effective_task_queue",
    "health_check_interval",
    "retry_policy",
    "runs_workflows",
    "tq_prefix",
    "worker_kwargs",
]


# ---------------------------------------------------------------------------------------------
# Small readers: every one names the field in its error
# ---------------------------------------------------------------------------------------------


class _Reader:
    """Typed access to one mapping of entry data; ``prefix`` is the path shown in errors."""

    def __init__(self, entry_id: str | None, data: Any, prefix: str = "") -> None:
        self.entry_id = entry_id
        self.prefix = prefix
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise self.error(f"{prefix.rstrip('.') or 'entry data'} must be a map")
        self.data: Mapping[str, Any] = data

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, location=Location(entry=self.entry_id))

    def name(self, key: str) -> str:
        return self.prefix + key

    def has(self, key: str) -> bool:
        return self.data.get(key) not in (None, "")

    def sub(self, key: str) -> _Reader:
        return _Reader(self.entry_id, self.data.get(key), self.name(key) + ".")

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(f"{self.name(key)} must be a string, not {_type(value)}")
        return value

    def boolean(self, key: str, default: bool | None = None) -> bool | None:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(f"{self.name(key)} must be true or false, not {_type(value)}")
        return value

    def integer(self, key: str, *, minimum: int = 0) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"{self.name(key)} must be an integer, not {_type(value)}")
        if value < minimum:
            raise self.error(f"{self.name(key)} must be >= {minimum}, got {value}")
        return value

    def number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(f"{self.name(key)} must be a number, not {_type(value)}")
        if value < 0:
            raise self.error(f"{self.name(key)} must not be negative, got {value}")
        return float(value)

    def duration(self, key: str, default: str | None = None) -> timedelta | None:
        """A Go duration string or a number of milliseconds, ``>= 0``."""
        value = self.data.get(key)
        if value is None:
            value = default
        if value is None:
            return None
        try:
            ns = parse_option(value)
        except DurationError as exc:
            raise self.error(f"{self.name(key)}: {exc}") from None
        if ns < 0:
            raise self.error(f"{self.name(key)} must not be negative, got {value!r}")
        return timedelta(microseconds=ns / 1000)


def _type(value: object) -> str:
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"


def _resolve_env(value: str, env: Mapping[str, str], field: str, entry_id: str | None) -> str:
    """Resolve ``${env:NAME}`` / ``${env:NAME|default}`` from ``env``; errors name the field."""
    try:
        return resolve_env(value, env)
    except ConfigError as exc:
        raise ConfigError(f"{field}: {exc.message}", location=Location(entry=entry_id), hint=exc.hint) from None


def _read_file(path: str, field: str, entry_id: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{field}: cannot read {path!r}: {exc.strerror or exc}", location=Location(entry=entry_id)
        ) from None


def _one_of(r: _Reader, keys: tuple[str, ...], *, required: bool, what: str) -> str | None:
    given = [k for k in keys if r.has(k)]
    if len(given) > 1:
        raise r.error(f"{what}: give only one of {', '.join(r.name(k) for k in given)}")
    if not given:
        if required:
            raise r.error(f"{what}: one of {', '.join(r.name(k) for k in keys)} is required")
        return None
    return given[0]


# ---------------------------------------------------------------------------------------------
# temporal.client
# ---------------------------------------------------------------------------------------------

_AUTH_TYPES = ("none", "api_key", "mtls")


def client_connect_kwargs(entry_id: str, data: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments for ``temporalio.client.Client.connect(**kwargs)``.

    Returns ``target_host``, ``namespace``, ``connect_timeout``, ``keep_alive_config`` and, when
    configured, ``api_key`` and ``tls`` (``True``/``False``/:class:`TLSConfig`). ``${env:NAME}``
    and ``${env:NAME|default}`` placeholders in ``address``, ``namespace``, ``auth.*`` and
    ``tls.*`` are resolved from ``env``; relative file paths are relative to the working
    directory. TLS follows the SDK: on with ``tls.enabled: true`` or ``auth.type: mtls``, and by
    default when an API key is set (``tls.enabled: false`` turns that off).
    """
    r = _Reader(entry_id, data)

    def text(reader: _Reader, key: str, default: str | None = None) -> str | None:
        value = reader.string(key, default)
        return None if value is None else _resolve_env(value, env, reader.name(key), entry_id)

    address = text(r, "address")
    if not address:
        raise r.error('address is required (host:port of the Temporal frontend, e.g. "localhost:7233")')
    if "://" in address:
        raise r.error(f"address must be host:port without a scheme, got {address!r}")
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise r.error(f"address must be host:port, got {address!r}")

    namespace = text(r, "namespace", "default")
    if not namespace:
        raise r.error("namespace must not be empty")

    kwargs: dict[str, Any] = {"target_host": address, "namespace": namespace}
    connect_timeout = r.duration("connection_timeout", "10s")
    kwargs["connect_timeout"] = connect_timeout or None
    keep_time = r.duration("keep_alive_time", "30s")
    keep_timeout = r.duration("keep_alive_timeout", "10s")
    assert keep_time is not None and keep_timeout is not None
    if keep_time and keep_timeout:
        kwargs["keep_alive_config"] = KeepAliveConfig(
            interval_millis=_millis(keep_time), timeout_millis=_millis(keep_timeout)
        )
    else:
        kwargs["keep_alive_config"] = None  # "0s" turns keep-alive off

    auth = r.sub("auth")
    auth_type = auth.string("type", "none")
    if auth_type not in _AUTH_TYPES:
        raise auth.error(f"auth.type must be one of {', '.join(_AUTH_TYPES)}, got {auth_type!r}")

    if auth_type == "api_key":
        source = _one_of(auth, ("api_key", "api_key_file", "api_key_env"), required=True, what="api_key auth")
        if source == "api_key":
            key = text(auth, "api_key") or ""
        elif source == "api_key_file":
            path = text(auth, "api_key_file") or ""
            key = _read_file(path, "auth.api_key_file", entry_id).decode("utf-8", "replace").strip()
        else:
            var = auth.string("api_key_env") or ""
            if var not in env:
                raise auth.error(f"auth.api_key_env: environment variable {var} is not set")
            key = env[var]
        if not key.strip():
            raise auth.error(f"auth.{source} gives an empty API key")
        kwargs["api_key"] = key.strip()

    cert: bytes | None = None
    private_key: bytes | None = None
    if auth_type == "mtls":
        cert_src = _one_of(auth, ("cert_file", "cert_pem"), required=True, what="mtls auth certificate")
        key_src = _one_of(auth, ("key_file", "key_pem", "key_pem_env"), required=True, what="mtls auth private key")
        if cert_src == "cert_file":
            cert = _read_file(text(auth, "cert_file") or "", "auth.cert_file", entry_id)
        else:
            cert = (text(auth, "cert_pem") or "").encode()
        if key_src == "key_file":
            private_key = _read_file(text(auth, "key_file") or "", "auth.key_file", entry_id)
        elif key_src == "key_pem":
            private_key = (text(auth, "key_pem") or "").encode()
        else:
            var = auth.string("key_pem_env") or ""
            if var not in env:
                raise auth.error(f"auth.key_pem_env: environment variable {var} is not set")
            private_key = env[var].encode()
        if not cert.strip():
            raise auth.error(f"auth.{cert_src} gives an empty certificate")
        if not private_key.strip():
            raise auth.error(f"auth.{key_src} gives an empty private key")

    tls = r.sub("tls")
    enabled = tls.boolean("enabled")
    ca_file = text(tls, "ca_file")
    server_name = text(tls, "server_name")
    insecure = tls.boolean("insecure_skip_verify", False)
    if insecure and server_name:
        raise tls.error("tls.insecure_skip_verify and tls.server_name cannot be used together")
    if auth_type == "mtls" and enabled is False:
        raise tls.error("auth.type mtls needs TLS: remove tls.enabled: false")

    want_tls = enabled is True or auth_type == "mtls" or (enabled is None and auth_type == "api_key")
    if want_tls:
        tls_config = TLSConfig(
            server_root_ca_cert=_read_file(ca_file, "tls.ca_file", entry_id) if ca_file else None,
            domain=server_name or None,
            client_cert=cert,
            client_private_key=private_key,
        )
        if tls_config != TLSConfig():
            kwargs["tls"] = tls_config
        elif enabled is True:
            kwargs["tls"] = True
    elif enabled is False:
        kwargs["tls"] = False
    return kwargs


def client_notes(entry_id: str, data: Mapping[str, Any]) -> list[str]:
    """Settings of a ``temporal.client`` entry that the Python SDK cannot honour (to log)."""
    r = _Reader(entry_id, data)
    notes: list[str] = []
    tls = r.sub("tls")
    auth_type = r.sub("auth").string("type", "none")
    enabled = tls.boolean("enabled")
    if tls.boolean("insecure_skip_verify", False):
        notes.append(
            "tls.insecure_skip_verify is ignored: the Python SDK always verifies the server "
            "certificate (give tls.ca_file with the server's CA instead)"
        )
    for key in ("cert_file", "key_file"):
        if tls.has(key):
            notes.append(
                f"tls.{key} is ignored: give the client certificate with auth.type: mtls "
                "(auth.cert_file / auth.key_file)"
            )
    tls_on = enabled is True or auth_type == "mtls" or (enabled is None and auth_type == "api_key")
    if not tls_on:
        for key in ("ca_file", "server_name"):
            if tls.has(key):
                notes.append(f"tls.{key} is ignored: TLS is not enabled (set tls.enabled: true)")
    return notes


def health_check_interval(entry_id: str, data: Mapping[str, Any]) -> timedelta | None:
    """``health_check.interval`` (default 30s) when ``health_check.enabled``, else ``None``."""
    hc = _Reader(entry_id, data).sub("health_check")
    interval = hc.duration("interval", "30s")
    if not hc.boolean("enabled", False):
        return None
    if not interval:
        raise hc.error("health_check.interval must be positive")
    return interval


def tq_prefix(data: Mapping[str, Any], *, entry_id: str | None = None) -> str:
    """The client's ``tq_prefix`` (``""`` by default), prepended verbatim to worker queues."""
    return _Reader(entry_id, data).string("tq_prefix", "") or ""


def effective_task_queue(
    client_data: Mapping[str, Any],
    worker_data: Mapping[str, Any],
    *,
    client_id: str | None = None,
    worker_id: str | None = None,
) -> str:
    """``tq_prefix`` of the client + ``task_queue`` of the worker."""
    queue = _Reader(worker_id, worker_data).string("task_queue")
    if not queue:
        raise ConfigError(
            "task_queue is required (the Temporal task queue to poll)", location=Location(entry=worker_id)
        )
    return tq_prefix(client_data, entry_id=client_id) + queue


def _millis(td: timedelta) -> int:
    return max(1, round(td.total_seconds() * 1000))


# ---------------------------------------------------------------------------------------------
# temporal.worker
# ---------------------------------------------------------------------------------------------

# worker_options key -> Worker keyword (integers; 0 means "SDK default").
_SLOT_OPTIONS = {
    "max_concurrent_activity_execution_size": "max_concurrent_activities",
    "max_concurrent_workflow_task_execution_size": "max_concurrent_workflow_tasks",
    "max_concurrent_local_activity_execution_size": "max_concurrent_local_activities",
}
_POLLER_OPTIONS = {
    "max_concurrent_activity_task_pollers": "activity_task_poller_behavior",
    "max_concurrent_workflow_task_pollers": "workflow_task_poller_behavior",
}
_RATE_OPTIONS = {
    "worker_activities_per_second": "max_activities_per_second",
    "task_queue_activities_per_second": "max_task_queue_activities_per_second",
}
_DURATION_OPTIONS = {
    "sticky_schedule_to_start_timeout": "sticky_queue_schedule_to_start_timeout",
    "worker_stop_timeout": "graceful_shutdown_timeout",
    "max_heartbeat_throttle_interval": "max_heartbeat_throttle_interval",
    "default_heartbeat_throttle_interval": "default_heartbeat_throttle_interval",
}
# Boolean options that have no Python equivalent: note when true.
_IGNORED_FLAGS = {
    "enable_session_worker": "the Python SDK has no sessions",
    "disable_registration_aliasing": "the Python SDK registers names as given (no aliasing)",
    "enable_logging_in_replay": (
        "workflow logging during replay is a logger setting in the Python SDK, not a worker option"
    ),
}
_OTHER_OPTIONS = {
    "max_concurrent_session_execution_size",
    "max_concurrent_eager_activity_execution_size",
    "worker_local_activities_per_second",
    "deadlock_detection_timeout",
    "identity",
    "disable_workflow_worker",
    "local_activity_worker_only",
    "disable_eager_activities",
    "use_versioning",
    "deployment_name",
    "build_id",
    "build_id_env",
    "default_versioning_behavior",
}
_KNOWN_OPTIONS = (
    set(_SLOT_OPTIONS)
    | set(_POLLER_OPTIONS)
    | set(_RATE_OPTIONS)
    | set(_DURATION_OPTIONS)
    | set(_IGNORED_FLAGS)
    | _OTHER_OPTIONS
)
_VERSIONING = {"pinned": VersioningBehavior.PINNED, "auto_upgrade": VersioningBehavior.AUTO_UPGRADE}


def worker_kwargs(
    entry_id: str, data: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """``temporalio.worker.Worker(**kwargs)`` options from a ``temporal.worker`` entry.

    Returns ``(kwargs, notes)``. ``kwargs`` holds only options that are set (unset ones keep the
    Python SDK defaults: 100 slots of each kind, 5 pollers, 10s sticky timeout, where Wippy's
    are 1000, 20 and 5s; they tune throughput, not behaviour) and never ``client``,
    ``task_queue``, ``workflows`` or ``activities``.
    ``disable_workflow_worker`` is left to the caller (see :func:`runs_workflows`). ``notes``
    lists the options that were given but cannot be honoured. ``env`` resolves ``${env:...}`` in
    ``build_id`` and the legacy ``build_id_env``.
    """
    env = env or {}
    opts = _Reader(entry_id, data).sub("worker_options")
    kwargs: dict[str, Any] = {}
    notes: list[str] = []

    for key in opts.data:
        if key not in _KNOWN_OPTIONS:
            notes.append(f"worker_options.{key} is not a known option and is ignored")

    for key, kw in _SLOT_OPTIONS.items():
        value = opts.integer(key)
        if value:
            if kw == "max_concurrent_workflow_tasks" and value < 2:
                raise opts.error(
                    f"{opts.name(key)} must be at least 2 (the Python SDK caches workflows and needs "
                    "a slot for the sticky queue)"
                )
            kwargs[kw] = value
    for key, kw in _POLLER_OPTIONS.items():
        value = opts.integer(key)
        if value:
            if kw == "workflow_task_poller_behavior" and value == 1:
                raise opts.error(f"{opts.name(key)} must not be 1 (use 2 or more, or 0 for the default)")
            kwargs[kw] = PollerBehaviorSimpleMaximum(maximum=value)
    for key, kw in _RATE_OPTIONS.items():
        rate = opts.number(key)
        if rate:
            kwargs[kw] = rate
            # Eager activities come with the workflow task, past the poller the rate limits:
            # a rate-limited worker gets its activities only by polling.
            kwargs["disable_eager_activity_execution"] = True
    for key, kw in _DURATION_OPTIONS.items():
        duration = opts.duration(key)
        if duration:
            kwargs[kw] = duration

    identity = opts.string("identity")
    if identity:
        kwargs["identity"] = identity

    if opts.integer("max_concurrent_session_execution_size"):
        notes.append("worker_options.max_concurrent_session_execution_size is ignored: the Python SDK has no sessions")
    if opts.integer("max_concurrent_eager_activity_execution_size"):
        notes.append(
            "worker_options.max_concurrent_eager_activity_execution_size is ignored: the Python SDK "
            "only limits eager activities per workflow task"
        )
    if opts.number("worker_local_activities_per_second"):
        notes.append(
            "worker_options.worker_local_activities_per_second is ignored: the Python SDK has no "
            "local-activity rate limit"
        )
    if opts.duration("deadlock_detection_timeout"):
        notes.append(
            "worker_options.deadlock_detection_timeout is ignored: the Python SDK's deadlock "
            "detection timeout is fixed at 2s"
        )
    for key, why in _IGNORED_FLAGS.items():
        if opts.boolean(key, False):
            notes.append(f"worker_options.{key} is ignored: {why}")

    no_workflows = opts.boolean("disable_workflow_worker", False)
    la_only = opts.boolean("local_activity_worker_only", False)
    if no_workflows and la_only:
        raise opts.error(
            "worker_options.disable_workflow_worker and worker_options.local_activity_worker_only "
            "cannot both be true (the worker would have nothing to do)"
        )
    if la_only:
        kwargs["no_remote_activities"] = True
    if opts.boolean("disable_eager_activities", False):
        kwargs["disable_eager_activity_execution"] = True

    deployment = _deployment_config(opts, env, entry_id, notes)
    if deployment is not None:
        kwargs["deployment_config"] = deployment
    return kwargs, notes


def runs_workflows(entry_id: str, data: Mapping[str, Any]) -> bool:
    """False when ``worker_options.disable_workflow_worker`` is set (register no workflows)."""
    opts = _Reader(entry_id, data).sub("worker_options")
    return not opts.boolean("disable_workflow_worker", False)


def _deployment_config(
    opts: _Reader, env: Mapping[str, str], entry_id: str, notes: list[str]
) -> WorkerDeploymentConfig | None:
    use = opts.boolean("use_versioning", False)
    name = opts.string("deployment_name")
    source = _one_of(opts, ("build_id", "build_id_env"), required=False, what="worker versioning")
    build_id: str | None = None
    if source == "build_id":
        build_id = _resolve_env(opts.string("build_id") or "", env, opts.name("build_id"), entry_id)
    elif source == "build_id_env":
        var = opts.string("build_id_env") or ""
        if var not in env:
            raise opts.error(f"worker_options.build_id_env: environment variable {var} is not set")
        build_id = env[var]
    behavior_name = opts.string("default_versioning_behavior")
    if behavior_name is not None and behavior_name not in _VERSIONING:
        raise opts.error(
            f"worker_options.default_versioning_behavior must be pinned or auto_upgrade, got {behavior_name!r}"
        )
    if not use:
        given = [
            k for k in ("deployment_name", "build_id", "build_id_env", "default_versioning_behavior") if opts.has(k)
        ]
        if given:
            notes.append(
                f"worker_options.{', worker_options.'.join(given)} ignored: worker_options.use_versioning is false"
            )
        return None
    if not name:
        raise opts.error("worker_options.deployment_name is required when use_versioning is true")
    if not build_id:
        raise opts.error("worker_options.build_id is required when use_versioning is true")
    return WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment_name=name, build_id=build_id),
        use_worker_versioning=True,
        default_versioning_behavior=_VERSIONING.get(behavior_name or "", VersioningBehavior.UNSPECIFIED),
    )


# ---------------------------------------------------------------------------------------------
# Retry policy tables (workflows.md §3.3)
# ---------------------------------------------------------------------------------------------

_RETRY_ALIASES = {
    "initialInterval": "initial_interval",
    "backoffCoefficient": "backoff_coefficient",
    "maximumInterval": "maximum_interval",
    "maximumAttempts": "maximum_attempts",
    "nonRetryableErrorTypes": "non_retryable_error_types",
}


def retry_policy(table: Mapping[str, Any], *, where: str = "retry_policy", entry_id: str | None = None) -> RetryPolicy:
    """A :class:`RetryPolicy` from a Wippy retry table.

    Keys are snake_case or camelCase; durations are Go strings or numbers of milliseconds (the
    normalised ``initial_interval_ns``/``maximum_interval_ns`` of ``core.options`` are accepted
    too). ``non_retryable_error_types`` is a string or a list of strings. Unset fields take
    Temporal's defaults: initial 1s, coefficient 2.0, maximum 100 x initial, unlimited attempts.
    Unknown keys are ignored, as in Wippy.
    """

    def fail(message: str) -> ConfigError:
        return ConfigError(f"{where}.{message}", location=Location(entry=entry_id))

    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table, not {_type(table)}", location=Location(entry=entry_id))
    fields: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = _RETRY_ALIASES.get(raw_key, raw_key)
        if key in ("initial_interval_ns", "maximum_interval_ns"):
            key, value = key[:-3], _Nanos(value)
        if key in fields:
            raise fail(f"{key} is given twice (snake_case and camelCase)")
        if value is not None:
            fields[key] = value

    def interval(key: str) -> timedelta | None:
        value = fields.get(key)
        if value is None:
            return None
        if isinstance(value, _Nanos):
            ns = value.ns
            if isinstance(ns, bool) or not isinstance(ns, int):
                raise fail(f"{key}_ns must be an integer")
        else:
            try:
                ns = parse_option(value)
            except DurationError as exc:
                raise fail(f"{key}: {exc}") from None
        if ns < 0:
            raise fail(f"{key} must not be negative")
        return timedelta(microseconds=ns / 1000)

    initial = interval("initial_interval")
    if initial is None or initial == timedelta(0):
        initial = timedelta(seconds=1)
    maximum = interval("maximum_interval")
    if maximum is None or maximum == timedelta(0):
        maximum = initial * 100

    coefficient = fields.get("backoff_coefficient", 2.0)
    if isinstance(coefficient, bool) or not isinstance(coefficient, (int, float)):
        raise fail(f"backoff_coefficient must be a number, not {_type(coefficient)}")
    if coefficient == 0:
        coefficient = 2.0
    if coefficient < 1:
        raise fail(f"backoff_coefficient must be >= 1, got {coefficient}")

    attempts = fields.get("maximum_attempts", 0)
    if isinstance(attempts, float) and attempts.is_integer():
        attempts = int(attempts)
    if isinstance(attempts, bool) or not isinstance(attempts, int):
        raise fail(f"maximum_attempts must be an integer, not {_type(attempts)}")
    if attempts < 0:
        raise fail(f"maximum_attempts must be >= 0 (0 = unlimited), got {attempts}")

    if maximum < initial and attempts != 1:
        raise fail("maximum_interval must not be less than initial_interval")

    types = fields.get("non_retryable_error_types")
    if isinstance(types, str):
        types = [types]
    if types is not None and (not isinstance(types, (list, tuple)) or not all(isinstance(t, str) for t in types)):
        raise fail("non_retryable_error_types must be a string or a list of strings")

    return RetryPolicy(
        initial_interval=initial,
        backoff_coefficient=float(coefficient),
        maximum_interval=maximum,
        maximum_attempts=attempts,
        non_retryable_error_types=list(types) if types else None,
    )


class _Nanos:
    """Marks a retry interval already given in nanoseconds (``*_ns`` keys)."""

    def __init__(self, ns: Any) -> None:
        self.ns = ns
