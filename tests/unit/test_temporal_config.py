"""Registry data -> temporalio objects (duralua.temporal.config): mapping and every validation."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import KeepAliveConfig, TLSConfig
from temporalio.common import RetryPolicy, VersioningBehavior, WorkerDeploymentVersion
from temporalio.worker import PollerBehaviorSimpleMaximum, WorkerDeploymentConfig

from duralua.errors import ConfigError
from duralua.temporal.config import (
    client_connect_kwargs,
    client_notes,
    effective_task_queue,
    health_check_interval,
    retry_policy,
    runs_workflows,
    tq_prefix,
    worker_kwargs,
)

CLIENT = "app:temporal"
WORKER = "app:worker"


def connect(data: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    return client_connect_kwargs(CLIENT, data, env or {})


def client_error(data: dict[str, Any], match: str, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError, match=re.escape(match)) as info:
        connect(data, env)
    assert info.value.location.entry == CLIENT
    return info.value


def worker(options: dict[str, Any], **kw: Any) -> tuple[dict[str, Any], list[str]]:
    return worker_kwargs(WORKER, {"client": CLIENT, "task_queue": "q", "worker_options": options}, **kw)


def worker_error(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(match)) as info:
        worker(options)
    assert info.value.location.entry == WORKER


# ------------------------------------------------------------------------------------ client


def test_client_defaults() -> None:
    kw = connect({"address": "localhost:7233"})
    assert kw == {
        "target_host": "localhost:7233",
        "namespace": "default",
        "connect_timeout": timedelta(seconds=10),
        "keep_alive_config": KeepAliveConfig(interval_millis=30_000, timeout_millis=10_000),
    }


def test_client_explicit_fields() -> None:
    kw = connect(
        {
            "address": "temporal.internal:7233",
            "namespace": "shop",
            "connection_timeout": "2s500ms",
            "keep_alive_time": "1m",
            "keep_alive_timeout": "5s",
            "tq_prefix": "dev-",
            "health_check": {"enabled": True, "interval": "15s"},
            "lifecycle": {"auto_start": True},
        }
    )
    assert kw["namespace"] == "shop"
    assert kw["connect_timeout"] == timedelta(seconds=2.5)
    assert kw["keep_alive_config"] == KeepAliveConfig(interval_millis=60_000, timeout_millis=5_000)


def test_client_durations_as_milliseconds_like_the_registry() -> None:
    kw = connect({"address": "h:1", "connection_timeout": 1500, "keep_alive_time": 20_000})
    assert kw["connect_timeout"] == timedelta(milliseconds=1500)
    assert kw["keep_alive_config"] == KeepAliveConfig(interval_millis=20_000, timeout_millis=10_000)


def test_client_zero_durations_disable() -> None:
    kw = connect({"address": "h:1", "connection_timeout": "0s", "keep_alive_time": "0s"})
    assert kw["connect_timeout"] is None
    assert kw["keep_alive_config"] is None


def test_client_env_placeholders_in_address_and_namespace() -> None:
    kw = connect(
        {"address": "${env:T_HOST|localhost}:${env:T_PORT}", "namespace": "${env:T_NS|default}"},
        {"T_PORT": "7000"},
    )
    assert kw["target_host"] == "localhost:7000"
    assert kw["namespace"] == "default"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({}, "address is required"),
        ({"address": ""}, "address is required"),
        ({"address": 7233}, "address must be a string, not the number 7233"),
        ({"address": "localhost"}, "address must be host:port"),
        ({"address": "localhost:http"}, "address must be host:port"),
        ({"address": "localhost:0"}, "address must be host:port"),
        ({"address": "http://localhost:7233"}, "without a scheme"),
        ({"address": "h:1", "namespace": ""}, "namespace must not be empty"),
        ({"address": "h:1", "namespace": ["a"]}, "namespace must be a string, not a list"),
        (
            {"address": "h:1", "connection_timeout": True},
            "connection_timeout: a boolean is not a duration",
        ),
        ({"address": "h:1", "connection_timeout": "10 s"}, "connection_timeout: invalid duration"),
        ({"address": "h:1", "keep_alive_time": "-1s"}, "keep_alive_time must not be negative"),
        ({"address": "h:1", "keep_alive_timeout": "1d"}, "keep_alive_timeout: invalid duration"),
        ({"address": "${env:NOPE}"}, "address: environment variable NOPE is not set"),
        ({"address": "h:1", "auth": "api_key"}, "auth must be a map"),
        ({"address": "h:1", "auth": {"type": "oauth"}}, "auth.type must be one of none, api_key, mtls"),
        ({"address": "h:1", "tls": {"enabled": "yes"}}, "tls.enabled must be true or false, not a str"),
    ],
)
def test_client_validation(data: dict[str, Any], match: str) -> None:
    client_error(data, match)


def test_error_message_names_the_entry() -> None:
    err = client_error({"address": "h:1", "namespace": ""}, "namespace")
    assert str(err) == "entry app:temporal: namespace must not be empty"


# ------------------------------------------------------------------------------------ api key


def test_api_key_inline_enables_default_tls() -> None:
    kw = connect({"address": "h:1", "auth": {"type": "api_key", "api_key": "secret"}})
    assert kw["api_key"] == "secret"
    assert "tls" not in kw  # the SDK turns TLS on by itself when an API key is set


def test_api_key_from_placeholder_file_and_env(tmp_path: Path) -> None:
    env = {"KEY": "from-env", "LEGACY": "legacy"}
    auth = {"type": "api_key", "api_key": "${env:KEY}"}
    assert connect({"address": "h:1", "auth": auth}, env)["api_key"] == "from-env"
    auth = {"type": "api_key", "api_key": "${env:MISSING|fallback}"}
    assert connect({"address": "h:1", "auth": auth}, env)["api_key"] == "fallback"
    auth = {"type": "api_key", "api_key_env": "LEGACY"}
    assert connect({"address": "h:1", "auth": auth}, env)["api_key"] == "legacy"
    key_file = tmp_path / "key.txt"
    key_file.write_text("from-file\n")
    auth = {"type": "api_key", "api_key_file": str(key_file)}
    assert connect({"address": "h:1", "auth": auth})["api_key"] == "from-file"


def test_empty_string_sources_count_as_absent() -> None:
    auth = {"type": "api_key", "api_key": "", "api_key_env": "K"}
    assert connect({"address": "h:1", "auth": auth}, {"K": "k"})["api_key"] == "k"


def test_api_key_with_tls_disabled_or_custom_ca(tmp_path: Path) -> None:
    auth = {"type": "api_key", "api_key": "k"}
    kw = connect({"address": "h:1", "auth": auth, "tls": {"enabled": False}})
    assert kw["tls"] is False
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"CA")
    kw = connect({"address": "h:1", "auth": auth, "tls": {"ca_file": str(ca)}})
    assert kw["tls"] == TLSConfig(server_root_ca_cert=b"CA")


@pytest.mark.parametrize(
    ("auth", "match"),
    [
        ({"type": "api_key"}, "one of auth.api_key, auth.api_key_file, auth.api_key_env is required"),
        (
            {"type": "api_key", "api_key": "a", "api_key_env": "B"},
            "give only one of auth.api_key, auth.api_key_env",
        ),
        ({"type": "api_key", "api_key": "  "}, "auth.api_key gives an empty API key"),
        ({"type": "api_key", "api_key": 5}, "auth.api_key must be a string"),
        ({"type": "api_key", "api_key": "${env:K}"}, "auth.api_key: environment variable K is not set"),
        ({"type": "api_key", "api_key_env": "K"}, "auth.api_key_env: environment variable K is not set"),
        (
            {"type": "api_key", "api_key_file": "/nonexistent/key"},
            "auth.api_key_file: cannot read '/nonexistent/key'",
        ),
    ],
)
def test_api_key_validation(auth: dict[str, Any], match: str) -> None:
    client_error({"address": "h:1", "auth": auth}, match)


# ------------------------------------------------------------------------------------ mTLS / TLS


def test_mtls_from_files(tmp_path: Path) -> None:
    (tmp_path / "c.pem").write_bytes(b"CERT")
    (tmp_path / "k.pem").write_bytes(b"KEY")
    (tmp_path / "ca.pem").write_bytes(b"CA")
    kw = connect(
        {
            "address": "h:1",
            "auth": {
                "type": "mtls",
                "cert_file": str(tmp_path / "c.pem"),
                "key_file": str(tmp_path / "k.pem"),
            },
            "tls": {"ca_file": str(tmp_path / "ca.pem"), "server_name": "temporal.example"},
        }
    )
    assert kw["tls"] == TLSConfig(
        server_root_ca_cert=b"CA", domain="temporal.example", client_cert=b"CERT", client_private_key=b"KEY"
    )
    assert "api_key" not in kw


def test_mtls_from_pem_and_env() -> None:
    env = {"CERT": "CERT-PEM", "KEY": "KEY-PEM"}
    kw = connect({"address": "h:1", "auth": {"type": "mtls", "cert_pem": "${env:CERT}", "key_pem_env": "KEY"}}, env)
    assert kw["tls"] == TLSConfig(client_cert=b"CERT-PEM", client_private_key=b"KEY-PEM")
    kw = connect({"address": "h:1", "auth": {"type": "mtls", "cert_pem": "C", "key_pem": "${env:KEY}"}}, env)
    assert kw["tls"] == TLSConfig(client_cert=b"C", client_private_key=b"KEY-PEM")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (
            {"auth": {"type": "mtls", "key_pem": "K"}},
            "mtls auth certificate: one of auth.cert_file, auth.cert_pem",
        ),
        ({"auth": {"type": "mtls", "cert_pem": "C"}}, "mtls auth private key: one of auth.key_file"),
        (
            {"auth": {"type": "mtls", "cert_pem": "C", "cert_file": "c", "key_pem": "K"}},
            "give only one of auth.cert_file, auth.cert_pem",
        ),
        (
            {"auth": {"type": "mtls", "cert_pem": "C", "key_pem": "K", "key_file": "k"}},
            "give only one of auth.key_file, auth.key_pem",
        ),
        (
            {"auth": {"type": "mtls", "cert_pem": "\n", "key_pem": "K"}},
            "auth.cert_pem gives an empty certificate",
        ),
        (
            {"auth": {"type": "mtls", "cert_pem": "C", "key_pem": " "}},
            "auth.key_pem gives an empty private key",
        ),
        (
            {"auth": {"type": "mtls", "cert_pem": "C", "key_pem_env": "NOPE"}},
            "auth.key_pem_env: environment variable NOPE",
        ),
        (
            {"auth": {"type": "mtls", "cert_file": "/nonexistent/c", "key_pem": "K"}},
            "auth.cert_file: cannot read",
        ),
        (
            {"auth": {"type": "mtls", "cert_pem": "C", "key_pem": "K"}, "tls": {"enabled": False}},
            "auth.type mtls needs TLS",
        ),
        (
            {"tls": {"enabled": True, "insecure_skip_verify": True, "server_name": "x"}},
            "tls.insecure_skip_verify and tls.server_name cannot be used together",
        ),
        ({"tls": {"enabled": True, "ca_file": "/nonexistent/ca"}}, "tls.ca_file: cannot read"),
        ({"tls": {"enabled": True, "server_name": 1}}, "tls.server_name must be a string"),
    ],
)
def test_mtls_and_tls_validation(data: dict[str, Any], match: str) -> None:
    client_error({"address": "h:1", **data}, match)


def test_tls_enabled_plain_and_server_name() -> None:
    assert connect({"address": "h:1", "tls": {"enabled": True}})["tls"] is True
    kw = connect({"address": "h:1", "tls": {"enabled": True, "server_name": "${env:SNI}"}}, {"SNI": "sni.example"})
    assert kw["tls"] == TLSConfig(domain="sni.example")
    assert "tls" not in connect({"address": "h:1", "tls": {"ca_file": "/nonexistent/ca"}})


def test_client_notes() -> None:
    assert client_notes(CLIENT, {"address": "h:1"}) == []
    notes = client_notes(CLIENT, {"address": "h:1", "tls": {"enabled": True, "insecure_skip_verify": True}})
    assert len(notes) == 1
    assert "tls.insecure_skip_verify is ignored" in notes[0]
    # insecure_skip_verify alone is accepted (not an error), TLS stays on
    assert connect({"address": "h:1", "tls": {"enabled": True, "insecure_skip_verify": True}})["tls"] is True
    notes = client_notes(CLIENT, {"address": "h:1", "tls": {"enabled": True, "cert_file": "c.pem"}})
    assert notes == [
        "tls.cert_file is ignored: give the client certificate with auth.type: mtls (auth.cert_file / auth.key_file)"
    ]
    notes = client_notes(CLIENT, {"address": "h:1", "tls": {"ca_file": "ca.pem", "server_name": "x"}})
    assert notes == [
        "tls.ca_file is ignored: TLS is not enabled (set tls.enabled: true)",
        "tls.server_name is ignored: TLS is not enabled (set tls.enabled: true)",
    ]


def test_health_check_interval() -> None:
    assert health_check_interval(CLIENT, {"address": "h:1"}) is None
    assert health_check_interval(CLIENT, {"health_check": {"enabled": True}}) == timedelta(seconds=30)
    assert health_check_interval(CLIENT, {"health_check": {"enabled": True, "interval": "5s"}}) == timedelta(seconds=5)
    with pytest.raises(ConfigError, match=re.escape("health_check.interval must be positive")):
        health_check_interval(CLIENT, {"health_check": {"enabled": True, "interval": "0s"}})
    with pytest.raises(ConfigError, match=re.escape("health_check.interval: invalid duration")):
        health_check_interval(CLIENT, {"health_check": {"interval": "soon"}})


# ------------------------------------------------------------------------------------ task queues


def test_task_queue_prefix() -> None:
    assert tq_prefix({}) == ""
    assert tq_prefix({"tq_prefix": "dev-"}) == "dev-"
    assert effective_task_queue({"tq_prefix": "dev-"}, {"task_queue": "orders"}) == "dev-orders"
    assert effective_task_queue({}, {"task_queue": "orders"}) == "orders"
    with pytest.raises(ConfigError, match="tq_prefix must be a string") as info:
        tq_prefix({"tq_prefix": 1}, entry_id=CLIENT)
    assert info.value.location.entry == CLIENT
    with pytest.raises(ConfigError, match="task_queue is required") as info:
        effective_task_queue({}, {"task_queue": ""}, worker_id=WORKER)
    assert info.value.location.entry == WORKER


# ------------------------------------------------------------------------------------ worker


def test_worker_no_options() -> None:
    assert worker_kwargs(WORKER, {"client": CLIENT, "task_queue": "q"}) == ({}, [])
    assert worker({}) == ({}, [])
    assert runs_workflows(WORKER, {"task_queue": "q"})


def test_worker_supported_options() -> None:
    kw, notes = worker(
        {
            "max_concurrent_activity_execution_size": 50,
            "max_concurrent_workflow_task_execution_size": 20,
            "max_concurrent_local_activity_execution_size": 30.0,
            "max_concurrent_activity_task_pollers": 4,
            "max_concurrent_workflow_task_pollers": 2,
            "worker_activities_per_second": 10,
            "task_queue_activities_per_second": 2.5,
            "sticky_schedule_to_start_timeout": "5s",
            "worker_stop_timeout": "30s",
            "max_heartbeat_throttle_interval": "1m",
            "default_heartbeat_throttle_interval": "20s",
            "identity": "worker-1",
            "disable_eager_activities": True,
            "local_activity_worker_only": True,
        }
    )
    assert notes == []
    assert kw == {
        "max_concurrent_activities": 50,
        "max_concurrent_workflow_tasks": 20,
        "max_concurrent_local_activities": 30,
        "activity_task_poller_behavior": PollerBehaviorSimpleMaximum(maximum=4),
        "workflow_task_poller_behavior": PollerBehaviorSimpleMaximum(maximum=2),
        "max_activities_per_second": 10.0,
        "max_task_queue_activities_per_second": 2.5,
        "sticky_queue_schedule_to_start_timeout": timedelta(seconds=5),
        "graceful_shutdown_timeout": timedelta(seconds=30),
        "max_heartbeat_throttle_interval": timedelta(minutes=1),
        "default_heartbeat_throttle_interval": timedelta(seconds=20),
        "identity": "worker-1",
        "disable_eager_activity_execution": True,
        "no_remote_activities": True,
    }


def test_worker_zero_means_sdk_default() -> None:
    kw, notes = worker(
        {
            "max_concurrent_activity_execution_size": 0,
            "max_concurrent_workflow_task_pollers": 0,
            "worker_activities_per_second": 0,
            "worker_stop_timeout": "0s",
            "enable_session_worker": False,
        }
    )
    assert kw == {}
    assert notes == []


def test_worker_ignored_options_are_noted() -> None:
    kw, notes = worker(
        {
            "max_concurrent_session_execution_size": 10,
            "max_concurrent_eager_activity_execution_size": 5,
            "worker_local_activities_per_second": 3,
            "deadlock_detection_timeout": "5s",
            "enable_logging_in_replay": True,
            "enable_session_worker": True,
            "disable_registration_aliasing": True,
            "deployment_name": "shop",
            "made_up_option": 1,
        }
    )
    assert kw == {}
    text = "\n".join(notes)
    assert len(notes) == 9
    assert "worker_options.made_up_option is not a known option" in text
    assert "worker_options.enable_session_worker is ignored: the Python SDK has no sessions" in text
    assert "worker_options.max_concurrent_session_execution_size is ignored" in text
    assert "worker_options.max_concurrent_eager_activity_execution_size is ignored" in text
    assert "worker_options.worker_local_activities_per_second is ignored" in text
    assert "worker_options.deadlock_detection_timeout is ignored" in text
    assert "worker_options.enable_logging_in_replay is ignored" in text
    assert "worker_options.disable_registration_aliasing is ignored" in text
    assert "worker_options.deployment_name ignored: worker_options.use_versioning is false" in text


def test_worker_disable_workflow_worker() -> None:
    data = {"task_queue": "q", "worker_options": {"disable_workflow_worker": True}}
    assert worker_kwargs(WORKER, data) == ({}, [])
    assert not runs_workflows(WORKER, data)


def test_worker_versioning() -> None:
    kw, notes = worker(
        {
            "use_versioning": True,
            "deployment_name": "shop",
            "build_id": "${env:BUILD|dev}",
            "default_versioning_behavior": "pinned",
        },
        env={"BUILD": "abc123"},
    )
    assert notes == []
    assert kw["deployment_config"] == WorkerDeploymentConfig(
        version=WorkerDeploymentVersion(deployment_name="shop", build_id="abc123"),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.PINNED,
    )
    kw, _ = worker({"use_versioning": True, "deployment_name": "shop", "build_id_env": "B"}, env={"B": "b1"})
    assert kw["deployment_config"].version.build_id == "b1"
    assert kw["deployment_config"].default_versioning_behavior == VersioningBehavior.UNSPECIFIED


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"max_concurrent_workflow_task_pollers": 1}, "max_concurrent_workflow_task_pollers must not be 1"),
        ({"max_concurrent_activity_task_pollers": -1}, "max_concurrent_activity_task_pollers must be >= 0"),
        (
            {"max_concurrent_activity_execution_size": -5},
            "max_concurrent_activity_execution_size must be >= 0",
        ),
        (
            {"max_concurrent_workflow_task_execution_size": 1},
            "max_concurrent_workflow_task_execution_size must be at least 2",
        ),
        (
            {"max_concurrent_activity_execution_size": "10"},
            "max_concurrent_activity_execution_size must be an integer",
        ),
        ({"max_concurrent_activity_execution_size": 2.5}, "must be an integer, not the number 2.5"),
        ({"max_concurrent_activity_execution_size": True}, "must be an integer, not a boolean"),
        ({"worker_activities_per_second": -1}, "worker_activities_per_second must not be negative"),
        (
            {"worker_local_activities_per_second": -0.5},
            "worker_local_activities_per_second must not be negative",
        ),
        ({"task_queue_activities_per_second": -2}, "task_queue_activities_per_second must not be negative"),
        ({"task_queue_activities_per_second": "fast"}, "task_queue_activities_per_second must be a number"),
        (
            {"sticky_schedule_to_start_timeout": [5]},
            "sticky_schedule_to_start_timeout: a list is not a duration",
        ),
        ({"worker_stop_timeout": "-1s"}, "worker_stop_timeout must not be negative"),
        ({"identity": 7}, "identity must be a string"),
        ({"enable_session_worker": "true"}, "enable_session_worker must be true or false"),
        (
            {"disable_workflow_worker": True, "local_activity_worker_only": True},
            "disable_workflow_worker and worker_options.local_activity_worker_only cannot both be true",
        ),
        ({"use_versioning": True, "build_id": "b"}, "deployment_name is required when use_versioning"),
        ({"use_versioning": True, "deployment_name": "d"}, "build_id is required when use_versioning"),
        ({"use_versioning": True, "deployment_name": "d", "build_id": "${env:NOPE}"}, "NOPE is not set"),
        (
            {"build_id": "a", "build_id_env": "B"},
            "give only one of worker_options.build_id, worker_options.build_id_env",
        ),
        ({"build_id_env": "NOPE"}, "build_id_env: environment variable NOPE is not set"),
        ({"default_versioning_behavior": "sticky"}, "must be pinned or auto_upgrade"),
    ],
)
def test_worker_validation(options: dict[str, Any], match: str) -> None:
    worker_error(options, match)


def test_worker_options_must_be_a_map() -> None:
    with pytest.raises(ConfigError, match="worker_options must be a map"):
        worker_kwargs(WORKER, {"task_queue": "q", "worker_options": ["x"]})


# ------------------------------------------------------------------------------------ retry policy


def test_retry_policy_defaults() -> None:
    assert retry_policy({}) == RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=100),
        maximum_attempts=0,
        non_retryable_error_types=None,
    )


def test_retry_policy_snake_case_strings() -> None:
    policy = retry_policy(
        {
            "initial_interval": "200ms",
            "backoff_coefficient": 1.5,
            "maximum_interval": "5s",
            "maximum_attempts": 4,
            "non_retryable_error_types": ["Invalid", "NotFound"],
        }
    )
    assert policy == RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        backoff_coefficient=1.5,
        maximum_interval=timedelta(seconds=5),
        maximum_attempts=4,
        non_retryable_error_types=["Invalid", "NotFound"],
    )


def test_retry_policy_camel_case_milliseconds() -> None:
    policy = retry_policy(
        {
            "initialInterval": 50,
            "backoffCoefficient": 3,
            "maximumAttempts": 2.0,
            "nonRetryableErrorTypes": "Invalid",
        }
    )
    assert policy.initial_interval == timedelta(milliseconds=50)
    assert policy.maximum_interval == timedelta(seconds=5)  # 100 x initial
    assert policy.backoff_coefficient == 3.0
    assert policy.maximum_attempts == 2
    assert policy.non_retryable_error_types == ["Invalid"]


def test_retry_policy_normalised_core_form() -> None:
    policy = retry_policy({"initial_interval_ns": 2_000_000_000, "maximum_interval_ns": 60_000_000_000})
    assert policy.initial_interval == timedelta(seconds=2)
    assert policy.maximum_interval == timedelta(minutes=1)


def test_retry_policy_zero_values_take_defaults_and_unknown_keys_are_ignored() -> None:
    policy = retry_policy({"initial_interval": 0, "backoff_coefficient": 0, "maximum_interval": "0s", "x": 1})
    assert policy == retry_policy({})


def test_retry_policy_single_attempt_skips_interval_check() -> None:
    policy = retry_policy({"initial_interval": "10s", "maximum_interval": "1s", "maximum_attempts": 1})
    assert policy.maximum_attempts == 1


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({"initial_interval": "1s", "initialInterval": "2s"}, "retry_policy.initial_interval is given twice"),
        ({"initial_interval": "soon"}, "retry_policy.initial_interval: invalid duration"),
        ({"initial_interval": -5}, "retry_policy.initial_interval must not be negative"),
        ({"maximum_interval": "-1s"}, "retry_policy.maximum_interval must not be negative"),
        (
            {"initial_interval": "10s", "maximum_interval": "1s"},
            "maximum_interval must not be less than initial",
        ),
        ({"backoff_coefficient": 0.5}, "retry_policy.backoff_coefficient must be >= 1"),
        ({"backoff_coefficient": "2"}, "retry_policy.backoff_coefficient must be a number"),
        ({"maximum_attempts": -1}, "retry_policy.maximum_attempts must be >= 0 (0 = unlimited)"),
        ({"maximum_attempts": 1.5}, "retry_policy.maximum_attempts must be an integer"),
        ({"maximum_attempts": True}, "retry_policy.maximum_attempts must be an integer"),
        ({"non_retryable_error_types": 5}, "non_retryable_error_types must be a string or a list of strings"),
        ({"non_retryable_error_types": ["a", 1]}, "non_retryable_error_types must be a string or a list"),
        ({"initial_interval_ns": "1s"}, "retry_policy.initial_interval_ns must be an integer"),
    ],
)
def test_retry_policy_validation(table: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(match)):
        retry_policy(table)


def test_retry_policy_where_and_entry() -> None:
    with pytest.raises(ConfigError, match=re.escape("workflow.retry_policy.maximum_attempts")) as info:
        retry_policy({"maximum_attempts": -1}, where="workflow.retry_policy", entry_id="app:wf")
    assert info.value.location.entry == "app:wf"
    with pytest.raises(ConfigError, match="retry_policy must be a table, not a list"):
        retry_policy(["x"])  # type: ignore[arg-type]


def test_retry_policy_is_accepted_by_the_sdk() -> None:
    from temporalio.api.common.v1 import RetryPolicy as RetryProto

    proto = RetryProto()
    retry_policy({"initial_interval": "1s", "maximum_attempts": 3}).apply_to_proto(proto)
    assert proto.maximum_attempts == 3
    assert proto.maximum_interval.ToTimedelta() == timedelta(seconds=100)
