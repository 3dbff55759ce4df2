"""Per-kind validation, reference resolution and environment placeholders.

Runs once over all loaded entries. Relative references are rewritten in place to full ids
(so every later layer reads ``data["client"] == "shop:tclient"``), then every reference is
checked to exist and to have the right kind. Problems are collected, not raised.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..durations import DurationError, parse_option
from ..errors import ConfigError, Problem
from .cycles import import_cycles
from .env import resolve_env
from .model import LUA_KINDS, Entry, Lifecycle, RestartPolicy, is_activity_kind, resolve_ref

# Spec registry.md §2.2: deterministic-class and workflow-class modules.
WORKFLOW_MODULES = frozenset(
    {
        "base64", "compress", "expr", "hash", "html", "json", "payload", "template", "text",
        "treesitter", "yaml", "contract", "crypto", "ctx", "funcs", "os", "process", "time",
        "uuid", "workflow",
    }
)  # fmt: skip

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")
POOL_TYPES = ("inline", "lazy", "static", "adaptive")
AUTH_TYPES = ("none", "api_key", "mtls")
HOST_KINDS = frozenset({"process.host", "terminal.host"})

_WORKER_COUNTS = (
    "max_concurrent_activity_execution_size",
    "max_concurrent_workflow_task_execution_size",
    "max_concurrent_local_activity_execution_size",
    "max_concurrent_session_execution_size",
    "max_concurrent_eager_activity_execution_size",
    "max_concurrent_activity_task_pollers",
    "max_concurrent_workflow_task_pollers",
)
_WORKER_RATES = (
    "worker_activities_per_second",
    "worker_local_activities_per_second",
    "task_queue_activities_per_second",
)
_WORKER_DURATIONS = (
    "sticky_schedule_to_start_timeout",
    "worker_stop_timeout",
    "deadlock_detection_timeout",
    "max_heartbeat_throttle_interval",
    "default_heartbeat_throttle_interval",
)
_WORKER_FLAGS = (
    "enable_logging_in_replay",
    "enable_session_worker",
    "disable_workflow_worker",
    "local_activity_worker_only",
    "disable_eager_activities",
    "disable_registration_aliasing",
    "use_versioning",
)

# (field, message); the field names the location, the message is complete on its own.
Report = Callable[[str, str], None]


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    names = {dict: "mapping", list: "list", str: "string", bool: "boolean"}
    return names.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------------------------------
# Typed field readers: report and fall back to the default on a bad value
# ---------------------------------------------------------------------------------------------


def _mapping(obj: Mapping[str, Any], key: str, path: str, report: Report) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        report(path, f"{path} must be a mapping, got a {_type_name(value)}")
        return {}
    return value


def _bool(obj: Mapping[str, Any], key: str, default: bool, path: str, report: Report) -> bool:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        report(path, f"{path} must be true or false, got {value!r}")
        return default
    return value


def _str(obj: Mapping[str, Any], key: str, path: str, report: Report, *, required: str = "") -> str | None:
    """A string field; ``required`` (a description of the field) makes absence an error."""
    value = obj.get(key)
    if value is None or value == "":
        if required:
            report(path, f"{path} is required ({required})")
        return None
    if not isinstance(value, str):
        report(path, f"{path} must be a string, got a {_type_name(value)}")
        return None
    return value


def _int(obj: Mapping[str, Any], key: str, default: int, path: str, report: Report, minimum: int = 0) -> int:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        report(path, f"{path} must be an integer, got {value!r}")
        return default
    if value < minimum:
        report(path, f"{path} must be >= {minimum}, got {value}")
        return default
    return int(value)


def _number(obj: Mapping[str, Any], key: str, default: float, path: str, report: Report) -> float:
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        report(path, f"{path} must be a number, got {value!r}")
        return default
    if value < 0:
        report(path, f"{path} must not be negative, got {value}")
        return default
    return float(value)


def _duration(obj: Mapping[str, Any], key: str, default_ns: int, path: str, report: Report) -> int:
    value = obj.get(key)
    if value is None:
        return default_ns
    try:
        ns = parse_option(value)
    except DurationError as exc:
        report(path, f"{path}: {exc}")
        return default_ns
    if ns < 0:
        report(path, f"{path} must not be negative, got {value!r}")
        return default_ns
    return ns


# ---------------------------------------------------------------------------------------------
# lifecycle
# ---------------------------------------------------------------------------------------------


def _lifecycle(raw: Any, namespace: str, report: Report) -> Lifecycle:
    if raw is None:
        return Lifecycle()
    if not isinstance(raw, dict):
        report("lifecycle", f"lifecycle must be a mapping, got a {_type_name(raw)}")
        return Lifecycle()
    d = Lifecycle()
    requires: list[str] = []
    for key in ("requires", "depends_on"):
        items = raw.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            report(f"lifecycle.{key}", f"lifecycle.{key} must be a list of entry ids")
            continue
        for item in items:
            if not isinstance(item, str) or not item:
                report(f"lifecycle.{key}", f"lifecycle.{key} items must be entry ids, got {item!r}")
            elif resolve_ref(item, namespace) not in requires:
                requires.append(resolve_ref(item, namespace))
    startup = raw.get("startup", d.startup)
    if startup not in ("required", "optional"):
        report("lifecycle.startup", f"lifecycle.startup must be required or optional, got {startup!r}")
        startup = d.startup
    security = raw.get("security")
    if security is not None and not isinstance(security, dict):
        report("lifecycle.security", "lifecycle.security must be a mapping")
        security = None
    r = RestartPolicy()
    restart = _mapping(raw, "restart", "lifecycle.restart", report)
    p = "lifecycle.restart."
    policy = RestartPolicy(
        initial_delay_ns=_duration(restart, "initial_delay", r.initial_delay_ns, p + "initial_delay", report),
        max_delay_ns=_duration(restart, "max_delay", r.max_delay_ns, p + "max_delay", report),
        backoff_factor=_number(restart, "backoff_factor", r.backoff_factor, p + "backoff_factor", report),
        jitter=_number(restart, "jitter", r.jitter, p + "jitter", report),
        max_attempts=_int(restart, "max_attempts", r.max_attempts, p + "max_attempts", report),
    )
    p = "lifecycle."
    return Lifecycle(
        auto_start=_bool(raw, "auto_start", d.auto_start, p + "auto_start", report),
        start_timeout_ns=_duration(raw, "start_timeout", d.start_timeout_ns, p + "start_timeout", report),
        stop_timeout_ns=_duration(raw, "stop_timeout", d.stop_timeout_ns, p + "stop_timeout", report),
        stable_threshold_ns=_duration(raw, "stable_threshold", d.stable_threshold_ns, p + "stable_threshold", report),
        requires=tuple(requires),
        startup=str(startup),
        security=security,
        restart=policy,
    )


def parse_lifecycle(raw: Any, namespace: str) -> Lifecycle:
    """Parse a ``lifecycle`` block; raises :class:`ConfigError` for the first bad field."""
    errors: list[str] = []
    result = _lifecycle(raw, namespace, lambda _field, message: errors.append(message))
    if errors:
        raise ConfigError(errors[0])
    return result


# ---------------------------------------------------------------------------------------------
# The checker
# ---------------------------------------------------------------------------------------------


@dataclass
class _Ref:
    entry: Entry
    field: str
    target: str
    kinds: frozenset[str] | None  # None: any kind


# Wippy kinds duralua loads but does not run (a warning, not an error: the app may still work
# without them). A kind close to one of these or to a supported kind is a misspelling.
WIPPY_KINDS = frozenset({
    "db.sql.sqlite", "db.sql.postgres", "db.sql.mysql", "db.sql.oracle", "db.sql.duckdb",
    "store.memory", "store.sql", "fs.directory", "fs.embed", "security.policy", "security.policy.expr",
    "security.token_store", "contract.definition", "contract.binding", "cloudstorage.s3", "exec.native",
    "exec.docker", "template.jet", "template.set", "view.page", "http.static", "ns.definition", "ns.requirement",
    "ns.dependency", "queue.driver.memory", "queue.queue", "queue.consumer", "websocket.relay", "process.supervisor",
})  # fmt: skip


def unknown_kind(entry: Entry) -> Problem:
    """A kind without a handler: a misspelling (an error naming the kind meant) or a kind
    duralua does not run (a warning)."""
    known = sorted(set(_HANDLERS) | WIPPY_KINDS)
    if entry.kind not in WIPPY_KINDS:
        close = difflib.get_close_matches(entry.kind, known, n=1, cutoff=0.8)
        if close:
            return Problem(f"unknown kind {entry.kind} (did you mean {close[0]}?)", entry.location_of("kind"))
    return Problem(f"kind {entry.kind} is not supported yet; entry loaded but ignored",
                   entry.location, severity="warning")  # fmt: skip


def _expected(kinds: frozenset[str]) -> str:
    return " or ".join(sorted(kinds))


class _Checker:
    def __init__(self, entries: dict[str, Entry], problems: list[Problem], env: Mapping[str, str]) -> None:
        self.entries = entries
        self.problems = problems
        self.env = env
        self.refs: list[_Ref] = []

    def error(self, entry: Entry, field: str, message: str) -> None:
        self.problems.append(Problem(message, entry.location_of(field) if field else entry.location))

    def reporter(self, entry: Entry) -> Report:
        return lambda field, message: self.error(entry, field, message)

    def run(self) -> None:
        for entry in self.entries.values():
            handler = _HANDLERS.get(entry.kind)
            if handler is None:
                self.problems.append(unknown_kind(entry))
                continue
            handler(self, entry)
            self.lifecycle(entry)
        self.check_refs()
        self.problems.extend(import_cycles(self.entries))
        for entry in self.entries.values():
            if entry.kind == "workflow.lua":
                self.workflow_imports(entry)

    # -- references ---------------------------------------------------------------------------

    def ref(
        self,
        entry: Entry,
        container: dict[str, Any],
        key: str,
        field: str,
        kinds: frozenset[str] | None,
        *,
        required: bool = False,
    ) -> str | None:
        """Resolve ``container[key]`` against the entry's namespace and queue its check."""
        value = container.get(key)
        if value is None or value == "":
            if required:
                what = f"the id of a {_expected(kinds)} entry" if kinds else "an entry id"
                self.error(entry, field, f"{field} is required ({what})")
            return None
        if not isinstance(value, str):
            self.error(entry, field, f"{field} must be an entry id string, got a {_type_name(value)}")
            return None
        full = resolve_ref(value, entry.namespace)
        container[key] = full
        self.refs.append(_Ref(entry, field, full, kinds))
        return full

    def check_refs(self) -> None:
        for ref in self.refs:
            target = self.entries.get(ref.target)
            if target is None:
                close = difflib.get_close_matches(ref.target, list(self.entries), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                self.error(ref.entry, ref.field, f"{ref.field}: no entry {ref.target}{hint}")
            elif ref.kinds is not None and target.kind not in ref.kinds:
                self.error(
                    ref.entry,
                    ref.field,
                    f"{ref.field}: {ref.target} is a {target.kind}, expected a {_expected(ref.kinds)}",
                )

    # -- shared blocks ------------------------------------------------------------------------

    def lifecycle(self, entry: Entry) -> None:
        raw = entry.data.get("lifecycle")
        entry.set_lifecycle(_lifecycle(raw, entry.namespace, self.reporter(entry)))
        if not isinstance(raw, dict):
            return
        for key in ("requires", "depends_on"):
            items = raw.get(key)
            if not isinstance(items, list):
                continue
            for i, item in enumerate(items):
                if isinstance(item, str) and item:
                    items[i] = resolve_ref(item, entry.namespace)
                    self.refs.append(_Ref(entry, f"lifecycle.{key}", items[i], None))

    def env_strings(self, entry: Entry, value: Any, path: str) -> Any:
        """Resolve ``${env:...}`` in every string below ``value``."""
        if isinstance(value, str):
            try:
                return resolve_env(value, self.env)
            except ConfigError as exc:
                hint = f" ({exc.hint})" if exc.hint else ""
                self.error(entry, path, f"{path}: {exc.message}{hint}")
                return value
        if isinstance(value, dict):
            return {k: self.env_strings(entry, v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.env_strings(entry, v, f"{path}[{i}]") for i, v in enumerate(value)]
        return value

    def legacy_env(self, entry: Entry, container: dict[str, Any], key: str, target: str, path: str) -> None:
        """``key_env: NAME`` (deprecated) -> ``target: <value of NAME>``."""
        name = container.get(key)
        if name is None or name == "":
            return
        field = f"{path}.{key}"
        if not isinstance(name, str):
            self.error(entry, field, f"{field} must name an environment variable")
            return
        if name not in self.env:
            self.error(entry, field, f"{field}: environment variable {name} is not set")
            return
        del container[key]
        container[target] = self.env[name]

    def config_env(self, entry: Entry) -> None:
        for key, value in list(entry.data.items()):
            if key != "lifecycle":
                entry.data[key] = self.env_strings(entry, value, key)

    # -- Lua kinds ----------------------------------------------------------------------------

    def lua(self, entry: Entry) -> None:
        report = self.reporter(entry)
        source = entry.data.get("source")
        if source is None or source == "":
            self.error(entry, "source", "source is required (Lua code, normally file://name.lua)")
        elif not isinstance(source, str):
            self.error(entry, "source", f"source must be a string, got a {_type_name(source)}")
        if entry.kind == "function.lua":
            _str(entry.data, "method", "method", report, required="the name of the exported function to run")
        elif entry.kind != "library.lua":
            _str(entry.data, "method", "method", report)
        self.modules(entry)
        self.imports(entry)
        if is_activity_kind(entry.kind):
            self.meta_temporal(entry, "activity")
        if entry.kind == "workflow.lua":
            self.meta_temporal(entry, "workflow")
        if entry.kind == "function.lua":
            self.pool(entry)

    def modules(self, entry: Entry) -> None:
        modules = entry.data.get("modules")
        if modules is None:
            return
        if not isinstance(modules, list):
            self.error(entry, "modules", "modules must be a list of built-in module names")
            return
        for item in modules:
            if not isinstance(item, str) or not item:
                self.error(entry, "modules", f"modules: {item!r} is not a module name")
            elif ":" in item:
                self.error(
                    entry,
                    "modules",
                    f"modules: {item!r} contains a colon; modules name built-in modules, "
                    "use imports: {alias: entry-id} for entries",
                )
            elif entry.kind == "workflow.lua" and item not in WORKFLOW_MODULES:
                extra = " (the channel global is usable without listing it)" if item == "channel" else ""
                self.error(
                    entry,
                    "modules",
                    f"modules: module {item!r} is not allowed in a workflow{extra}; workflows may only "
                    f"use deterministic or workflow modules: {', '.join(sorted(WORKFLOW_MODULES))}",
                )

    def imports(self, entry: Entry) -> None:
        imports = entry.data.get("imports")
        if imports is None:
            return
        if not isinstance(imports, dict):
            self.error(entry, "imports", "imports must be a mapping alias: entry-id")
            return
        for alias in list(imports):
            if not isinstance(alias, str) or not alias:
                self.error(entry, "imports", f"imports: alias {alias!r} must be a non-empty string")
                continue
            self.ref(entry, imports, alias, f"imports.{alias}", LUA_KINDS, required=True)

    def workflow_imports(self, entry: Entry) -> None:
        """A library runs inside its importer's VM, so a workflow's libraries obey its module rule.

        Only a warning: whether Wippy refuses such a workflow at build time is unverified, and
        the library may never touch the module on the workflow's code paths. Imported
        functions are skipped (the temporal test suite imports one without requiring it).
        """
        seen = {entry.id}
        stack = [(alias, target) for alias, target in entry.imports.items()]
        while stack:
            alias, target_id = stack.pop()
            target = self.entries.get(target_id)
            if target_id in seen or target is None or target.kind != "library.lua":
                continue
            seen.add(target_id)
            for module in target.modules:
                if module not in WORKFLOW_MODULES and ":" not in module:
                    self.problems.append(
                        Problem(
                            f"imports.{alias}: library {target_id} lists module {module!r}, which a "
                            "workflow may not use (it fails if the workflow reaches it); allowed: "
                            f"{', '.join(sorted(WORKFLOW_MODULES))}",
                            entry.location_of("imports"),
                            severity="warning",
                        )
                    )
            stack.extend((alias, t) for t in target.imports.values())

    def meta_temporal(self, entry: Entry, section: str) -> None:
        temporal = entry.meta.get("temporal")
        if temporal is None:
            return
        if not isinstance(temporal, dict):
            self.error(entry, "meta", "meta.temporal must be a mapping")
            return
        block = temporal.get(section)
        if block is None:
            return
        path = f"meta.temporal.{section}"
        if not isinstance(block, dict):
            self.error(entry, "meta", f"{path} must be a mapping")
            return
        # No worker: silently not registered (spec), so the reference is optional.
        self.ref(entry, block, "worker", f"{path}.worker", frozenset({"temporal.worker"}))
        report = self.reporter(entry)
        if section == "activity":
            _bool(block, "local", False, f"{path}.local", lambda _f, m: report("meta", m))
        else:
            _str(block, "name", f"{path}.name", lambda _f, m: report("meta", m))

    def pool(self, entry: Entry) -> None:
        report = self.reporter(entry)
        pool = _mapping(entry.data, "pool", "pool", report)
        kind = pool.get("type")
        if kind is not None and kind not in POOL_TYPES:
            self.error(entry, "pool", f"pool.type must be one of {', '.join(POOL_TYPES)}, got {kind!r}")
        for key in ("workers", "size", "buffer", "max_size"):
            _int(pool, key, 0, f"pool.{key}", report)

    # -- services -----------------------------------------------------------------------------

    def process_host(self, entry: Entry) -> None:
        report = self.reporter(entry)
        host = _mapping(entry.data, "host", "host", report)
        for key in ("workers", "queue_size", "local_queue_size", "max_processes"):
            _int(host, key, 1, f"host.{key}", report, minimum=1)

    def process_service(self, entry: Entry) -> None:
        self.ref(entry, entry.data, "process", "process", frozenset({"process.lua"}), required=True)
        self.ref(entry, entry.data, "host", "host", HOST_KINDS, required=True)
        inputs = entry.data.get("input")
        if inputs is not None and not isinstance(inputs, list):
            self.error(
                entry,
                "input",
                f"input must be a list (one element per argument of the process method), got a {_type_name(inputs)}",
            )

    def temporal_client(self, entry: Entry) -> None:
        data = entry.data
        report = self.reporter(entry)
        _str(data, "address", "address", report, required="host:port of the Temporal frontend")
        _str(data, "namespace", "namespace", report)
        _str(data, "tq_prefix", "tq_prefix", report)
        for key in ("connection_timeout", "keep_alive_time", "keep_alive_timeout"):
            _duration(data, key, 0, key, report)
        health = _mapping(data, "health_check", "health_check", report)
        _bool(health, "enabled", False, "health_check.enabled", report)
        _duration(health, "interval", 0, "health_check.interval", report)

        auth = _mapping(data, "auth", "auth", report)
        auth_type = auth.get("type", "none")
        if auth_type not in AUTH_TYPES:
            self.error(entry, "auth", f"auth.type must be one of {', '.join(AUTH_TYPES)}, got {auth_type!r}")
        elif auth_type == "api_key":
            self.one_of(entry, auth, ("api_key", "api_key_file", "api_key_env"), "auth.type api_key")
        elif auth_type == "mtls":
            self.one_of(entry, auth, ("cert_file", "cert_pem"), "auth.type mtls (certificate)")
            self.one_of(entry, auth, ("key_file", "key_pem", "key_pem_env"), "auth.type mtls (key)")

        tls = _mapping(data, "tls", "tls", report)
        for key in ("enabled", "insecure_skip_verify"):
            _bool(tls, key, False, f"tls.{key}", report)
        for key in ("ca_file", "server_name", "cert_file", "key_file"):
            _str(tls, key, f"tls.{key}", report)
        if tls.get("insecure_skip_verify") is True and tls.get("server_name"):
            self.error(entry, "tls", "tls.insecure_skip_verify and tls.server_name cannot be used together")

        if auth:
            self.legacy_env(entry, auth, "api_key_env", "api_key", "auth")
            self.legacy_env(entry, auth, "key_pem_env", "key_pem", "auth")
        self.config_env(entry)

    def one_of(self, entry: Entry, block: dict[str, Any], keys: tuple[str, ...], what: str) -> None:
        given = [k for k in keys if block.get(k) not in (None, "")]
        if len(given) != 1:
            names = ", ".join(f"auth.{k}" for k in keys)
            found = f"got {', '.join(given)}" if given else "got none"
            self.error(entry, "auth", f"{what} needs exactly one of {names} ({found})")

    def temporal_worker(self, entry: Entry) -> None:
        data = entry.data
        report = self.reporter(entry)
        self.ref(entry, data, "client", "client", frozenset({"temporal.client"}), required=True)
        _str(data, "task_queue", "task_queue", report, required="the Temporal task queue to poll")
        opts = _mapping(data, "worker_options", "worker_options", report)
        p = "worker_options."
        for key in _WORKER_COUNTS:
            _int(opts, key, 0, p + key, report)
        if opts.get("max_concurrent_workflow_task_pollers") == 1:
            self.error(
                entry,
                "worker_options",
                f"{p}max_concurrent_workflow_task_pollers must not be 1 (the Temporal SDK needs at "
                "least 2 workflow task pollers; leave it unset for the default 20)",
            )
        for key in _WORKER_RATES:
            _number(opts, key, 0.0, p + key, report)
        for key in _WORKER_DURATIONS:
            _duration(opts, key, 0, p + key, report)
        for key in _WORKER_FLAGS:
            _bool(opts, key, False, p + key, report)
        for key in ("identity", "deployment_name", "build_id"):
            _str(opts, key, p + key, report)
        behavior = opts.get("default_versioning_behavior")
        if behavior not in (None, "", "pinned", "auto_upgrade"):
            self.error(
                entry,
                "worker_options",
                f"{p}default_versioning_behavior must be pinned or auto_upgrade, got {behavior!r}",
            )
        if opts.get("disable_workflow_worker") is True and opts.get("local_activity_worker_only") is True:
            self.error(
                entry,
                "worker_options",
                f"{p}disable_workflow_worker and {p}local_activity_worker_only cannot both be true",
            )
        if opts.get("build_id") and opts.get("build_id_env"):
            self.error(entry, "worker_options", f"give {p}build_id or {p}build_id_env, not both")
        elif opts:
            self.legacy_env(entry, opts, "build_id_env", "build_id", "worker_options")
        self.config_env(entry)

    def http_service(self, entry: Entry) -> None:
        report = self.reporter(entry)
        _str(entry.data, "addr", "addr", report, required='listen address, e.g. ":8080"')
        timeouts = _mapping(entry.data, "timeouts", "timeouts", report)
        for key in timeouts:
            _duration(timeouts, key, 0, f"timeouts.{key}", report)
        host = _mapping(entry.data, "host", "host", report)
        for key in ("buffer_size", "worker_count"):
            _int(host, key, 1, f"host.{key}", report, minimum=1)

    def http_router(self, entry: Entry) -> None:
        kinds = frozenset({"http.service"})
        if entry.meta.get("server") not in (None, ""):
            self.ref(entry, entry.meta, "server", "meta.server", kinds)
        else:
            self.ref(entry, entry.data, "server", "meta.server", kinds, required=True)
        _str(entry.data, "prefix", "prefix", self.reporter(entry))

    def http_endpoint(self, entry: Entry) -> None:
        report = self.reporter(entry)
        self.ref(entry, entry.meta, "router", "meta.router", frozenset({"http.router"}), required=True)
        method = _str(entry.data, "method", "method", report, required=", ".join(HTTP_METHODS))
        if method is not None and method not in HTTP_METHODS:
            self.error(entry, "method", f"method must be one of {', '.join(HTTP_METHODS)}, got {method!r}")
        path = _str(entry.data, "path", "path", report, required="URL path starting with /")
        if path is not None and not path.startswith("/"):
            self.error(entry, "path", f"path must start with /, got {path!r}")
        self.ref(entry, entry.data, "func", "func", frozenset({"function.lua"}), required=True)

    def terminal_host(self, entry: Entry) -> None:
        _bool(entry.data, "hide_logs", False, "hide_logs", self.reporter(entry))

    def registry_entry(self, entry: Entry) -> None:
        pass  # free-form data by definition

    def env_entry(self, entry: Entry) -> None:
        pass  # checked by the runtime's env store when it boots (runtime/envstore.py)


_HANDLERS: dict[str, Callable[[_Checker, Entry], None]] = {
    "function.lua": _Checker.lua,
    "library.lua": _Checker.lua,
    "process.lua": _Checker.lua,
    "workflow.lua": _Checker.lua,
    "process.host": _Checker.process_host,
    "process.service": _Checker.process_service,
    "temporal.client": _Checker.temporal_client,
    "temporal.worker": _Checker.temporal_worker,
    "http.service": _Checker.http_service,
    "http.router": _Checker.http_router,
    "http.endpoint": _Checker.http_endpoint,
    "terminal.host": _Checker.terminal_host,
    "registry.entry": _Checker.registry_entry,
    **{kind: _Checker.env_entry for kind in ("env.variable", "env.storage.memory", "env.storage.file",
                                             "env.storage.os", "env.storage.router", "env.storage.static")},
}  # fmt: skip

SUPPORTED_KINDS = frozenset(_HANDLERS)


def validate_entries(entries: dict[str, Entry], problems: list[Problem], env: Mapping[str, str]) -> None:
    """Validate every entry, resolve references and placeholders in place; collect problems."""
    _Checker(entries, problems, env).run()
