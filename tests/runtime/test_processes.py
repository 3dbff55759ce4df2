"""process.lua on process.host: messaging, monitors, links, names, errors (embedded engine)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from duralua.errors import CallError

from .conftest import Served, served


def run(tmp_path: Path, body: Callable[[Served], Coroutine[Any, Any, Any]]) -> Any:
    async def main() -> Any:
        async with served(tmp_path) as s:
            return await body(s)

    return asyncio.run(main())


def scenario(tmp_path: Path, name: str, *args: Any) -> Any:
    return run(tmp_path, lambda s: s.scenario(name, *args))


def test_spawn_send_and_exit(tmp_path: Path) -> None:
    res = scenario(tmp_path, "echo")
    assert res["reply"] == "hello ada" and res["from_ok"] is True
    assert res["exit"] == {"kind": "pid.exit", "value": {"stopped": True}}
    assert res["pid"].startswith("{local@rt:procs|0x")


def test_background_job_monitors_a_workflow_and_reports_by_name(tmp_path: Path) -> None:
    res = scenario(tmp_path, "background_job", "rt:worker")
    (report,) = res["reports"]
    assert report == {"from": res["wf"], "kind": "pid.exit", "value": {"value": "done"}}


def test_session_keeps_state_across_1000_messages(tmp_path: Path) -> None:
    assert scenario(tmp_path, "session", 1000) == {"count": 1000, "total": 500500}


def test_unmonitor_and_unlink_stop_further_events(tmp_path: Path) -> None:
    res = scenario(tmp_path, "unmonitor_unlink")
    assert res["after"] == "none"
    assert res["twice"].startswith("Internal: monitor failed: already monitoring pid")


def test_linked_process_dies_with_its_peer_unless_it_traps(tmp_path: Path) -> None:
    plain = scenario(tmp_path, "link", False)
    assert plain["linked"] is True and "seen" not in plain
    assert plain["exit"] == {"kind": "pid.exit", "error": "linked process failed", "error_kind": ""}
    trapped = scenario(tmp_path, "link", True)
    assert trapped["seen"]["kind"] == "pid.link.down" and trapped["seen"]["from"] == trapped["target"]
    assert "crash on purpose" in trapped["seen"]["error"]
    assert trapped["exit"] == {"kind": "pid.exit", "value": "trapped"}


def test_a_call_linked_to_a_failing_process_fails(tmp_path: Path) -> None:
    with pytest.raises(CallError) as info:
        scenario(tmp_path, "linked_caller")
    assert info.value.failure.message == "linked process failed"


def test_monitors_hear_before_links(tmp_path: Path) -> None:
    assert scenario(tmp_path, "linked_monitored") == {"first": "pid.exit", "second": "pid.link.down", "same": True}


def test_cancel_and_terminate(tmp_path: Path) -> None:
    res = scenario(tmp_path, "cancel_terminate")
    assert res["reason"] == "bye"
    assert res["cancelled"] == {"kind": "pid.exit", "value": "cancelled: bye"}
    assert res["terminated"] == {"kind": "pid.exit", "error": "process terminated", "error_kind": "Internal"}
    assert res["again"] == "Internal: terminate failed: process not found"
    assert res["cancel_gone"] == "NotFound"


def test_with_name_is_spawn_or_signal(tmp_path: Path) -> None:
    res = scenario(tmp_path, "with_name")
    # the second spawner carries both startup messages (5, then 7): the holder gets them
    assert res == {"same": True, "state": {"count": 3, "total": 17}, "lookup": True}


def test_name_registry(tmp_path: Path) -> None:
    res = scenario(tmp_path, "names")
    assert res == {
        "register": True,
        "again": True,
        "taken": "AlreadyExists: name already registered: me-name",
        "bad_pid": "Invalid: pid must be a string",
        "scope": "Internal",
        "lookup": True,
        "died_with_owner": "NotFound: name not registered",
        "unregister": True,
        "unregister_again": False,
        "send_unknown": "could not resolve 'nobody-by-this-name' as PID or registered name",
    }


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    res = scenario(tmp_path, "errors")
    assert res["unknown_entry"].startswith("NotFound: process entry rt:nope not found")
    assert res["unknown_host"].startswith("NotFound: host not found: rt:nohost")
    assert res["parked"] == "Unavailable: host is not running: rt:parked"
    assert res["limit"] == "LimitExceeded: max processes limit exceeded" and res["limit_retryable"] is False
    assert res["returns_err"] == {"kind": "pid.exit", "error": "gave up", "error_kind": "Internal", "retryable": False}
    assert res["send_dead"] == "NotFound: process not found"
    assert res["monitor_dead"] == "Internal: monitor failed: pid not registered"
    assert res["link_dead"] == "Internal: link failed: pid not registered"
    assert res["exec_err"] == "Internal: gave up"
    assert res["exec_ok"] == "woke"
    assert res["bad_args"] == "Invalid: spawn requires at least id and host arguments"


def test_plain_and_json_values_arrive_alike(tmp_path: Path) -> None:
    res = scenario(tmp_path, "plain_values")
    assert res["plain"] == ["integer:1", "float:2.0", "float:-0.0", "float:1e+300", "string:é", "boolean:true"]
    assert res["json"] == ["table:integer:1", "table:float:2.0", "table:string:é", "float:3.5"]
    assert res["long"] == len("string:") + 5000
    assert res["nan"] == "payload[1]: NaN cannot be encoded"
    assert res["inf"] == "payload[1]: infinity cannot be encoded"
    assert res["binary"].startswith("payload[1]: binary string (not valid UTF-8)")
    assert res["at_topic"] == "cannot send to @ topics"
    assert res["unknown"] == "could not resolve 'nobody' as PID or registered name"
    assert res["exec"] == ["integer:1", "float:2.0", "string:s", "boolean:true"]
    assert res["exec_json"] == ["table:integer:1", "float:0.5"]
    assert res["exec_nan"] == "args[1]: NaN cannot be encoded"


def test_main_returning_ends_the_process(tmp_path: Path) -> None:
    assert scenario(tmp_path, "coro_exit") == {"kind": "pid.exit", "value": "main done"}


def test_workflow_round_trip_from_a_function(tmp_path: Path) -> None:
    res = scenario(tmp_path, "workflow_roundtrip", "rt:worker")
    assert res == {"from_ok": True, "exit": {"kind": "pid.exit", "value": {"pong": {"answer": 42}}}}


def test_exec_and_links_to_workflows(tmp_path: Path) -> None:
    res = scenario(tmp_path, "exec_workflow", "rt:worker")
    assert res["value"] == {"value": 5} and res["failed"].endswith("wf.lua:11: nope")
    assert scenario(tmp_path, "monitor_workflow_fail", "rt:worker") == {"a": "pid.exit", "b": "pid.link.down"}


def test_unmonitor_and_unlink_of_a_workflow_stop_its_events(tmp_path: Path) -> None:
    cases = (("both", False), ("monitor", True), ("link", False), ("none", True))

    async def body(s: Served) -> list[Any]:
        return [await s.scenario("unwatch_workflow", "rt:worker", drop, trap) for drop, trap in cases]

    both, monitor, link, none = run(tmp_path, body)
    # the helper saw the workflow end; within the window after its report this call got nothing
    # (and, not trapping, was not failed by a LINK_DOWN)
    assert both == {"unmonitor": True, "unlink": True, "report": "pid.exit", "seen": []}
    assert monitor == {"unmonitor": True, "report": "pid.exit", "seen": ["pid.link.down"]}
    assert link == {"unlink": True, "report": "pid.exit", "seen": ["pid.exit"]}
    assert none == {"report": "pid.exit", "seen": ["pid.exit", "pid.link.down"]}  # the window catches both


def test_a_call_linked_to_a_failing_workflow_fails_unless_it_traps(tmp_path: Path) -> None:
    trapped = scenario(tmp_path, "linked_workflow", "rt:worker", True)
    assert trapped["from_ok"] is True and trapped["event"]["kind"] == "pid.link.down"
    assert trapped["event"]["error"].endswith("wf.lua:11: boom")
    with pytest.raises(CallError) as info:
        scenario(tmp_path, "linked_workflow", "rt:worker", False)
    assert info.value.failure.message == "linked process failed" and info.value.failure.kind == ""


def test_trap_links_does_not_outlive_the_call_that_set_it(tmp_path: Path) -> None:
    async def body(s: Served) -> tuple[Any, Any, CallError | None]:
        first = await s.scenario("trap_options", True)
        second = await s.scenario("trap_options", False)
        try:
            await s.scenario("linked_caller")
        except CallError as exc:
            return first, second, exc
        return first, second, None

    first, second, failed = run(tmp_path, body)
    assert first == {"before": False, "after": True, "calls": 1}
    assert second == {"before": False, "after": False, "calls": 2}  # the same pooled Lua state
    assert failed is not None and failed.failure.message == "linked process failed"


def test_faults_end_only_the_faulty_process(tmp_path: Path) -> None:
    async def body(s: Served) -> Any:
        s.rt.mailbox_limit = 2000
        return await s.scenario("faults")

    async def main() -> Any:
        async with served(tmp_path, memory_limit=8 * 1024 * 1024, instruction_budget=20_000_000) as s:
            return await body(s)

    res = asyncio.run(main())
    assert res["spinner"]["error"].endswith("instruction budget of 20000000 exceeded (endless loop?)")
    assert res["hog"]["error"] == "memory limit of 8388608 bytes exceeded"
    assert res["binary"]["error"].startswith("result: binary string") and res["binary"]["error_kind"] == "Invalid"
    assert res["broken"]["error"] == "src/broken.lua:1: this process cannot be loaded"
    assert res["crasher"]["error"].endswith("crash on purpose")
    assert res["chatter"]["error"] == "process terminated"  # it never blocked, yet the runtime went on
    spam = res["spammer"]["value"]
    assert spam["sent"] == 2000 and spam["kind"] == "LimitExceeded"
    assert res["after"] == "still alive"
