"""Behaviour every engine must share. Each test runs per engine (see conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from duralua.core.validate import topic_problem, workflow_id_problem
from duralua.errors import INVALID, CallError

from .conftest import Harness, run


async def _ok(h: Harness, workflow: str, *args: Any) -> Any:
    value, failure = await h.outcome(await h.start(workflow, *args))
    assert failure is None, f"{h.name}: {failure}"
    return value


def test_activities_and_options(harness_factory: Any) -> None:
    res = run(harness_factory, lambda h: _ok(h, "conf:activities", 5))
    assert res == {"sum": 15, "echoed": {"a": [1, 2], "b": "x"}, "defaults": "d"}


def test_activity_errors(harness_factory: Any) -> None:
    async def body(h: Harness) -> dict[str, Any]:
        return {mode: await _ok(h, "conf:errors_wf", mode) for mode in ("invalid", "raise", "unknown", "bad_id")}

    res = run(harness_factory, body)
    assert res["invalid"] == {
        "kind": "Invalid",
        "retryable": False,
        "message": "no money",
        "field": "amount",
        "wrapper": "activity",
        "is_invalid": True,
    }
    assert res["raise"] == {"kind": "Internal", "has_text": True}
    assert res["unknown"] == {"kind": "NotFound", "retryable": True}
    assert res["bad_id"] == {"kind": "Invalid", "message": "namespace required in function ID"}


def test_activity_timeout(harness_factory: Any) -> None:
    res = run(harness_factory, lambda h: _ok(h, "conf:errors_wf", "timeout"))
    assert res == {"kind": "Timeout", "timeout_type": "start_to_close"}


def test_workflow_failures(harness_factory: Any) -> None:
    async def body(h: Harness) -> list[Any]:
        out = []
        for wf, arg in (
            ("conf:errors_wf", "fail_workflow"),
            ("conf:errors_wf", "fail_string"),
            ("conf:raiser", None),
            ("conf:bad_result", None),
        ):
            pid = await h.start(wf, arg) if arg else await h.start(wf)
            out.append(await h.outcome(pid))
        return out

    (v1, f1), (_, f2), (_, f3), (_, f4) = run(harness_factory, body)
    assert (
        v1 is None and f1 is not None and (f1.kind, f1.message, f1.retryable) == ("Conflict", "workflow gave up", False)
    )
    assert f2 is not None and (f2.kind, f2.message, f2.retryable) == ("Internal", "plain failure", False)
    assert f3 is not None and f3.kind == "Internal" and "workflow exploded" in f3.message
    assert f4 is not None and "failed to encode result" in f4.message


def test_timers(harness_factory: Any) -> None:
    res = run(harness_factory, lambda h: _ok(h, "conf:timers"))
    assert res == {
        "slept_at_least_2s": True,
        "first": "fast",
        "stopped": True,
        "timer_fired": False,
        "ticks": 3,
        "zero": True,
    }


def test_signals_are_kept_until_received(harness_factory: Any) -> None:
    async def body(h: Harness) -> Any:
        pid = await h.start("conf:signals", 3)
        await h.signal(pid, "ctrl", "stop")
        for i in range(3):
            await h.signal(pid, "note", {"n": i})
        value, failure = await h.outcome(pid)
        assert failure is None, failure
        return value

    res = run(harness_factory, body)
    assert res["ctrl"] == "stop"
    assert [g["data"]["n"] for g in res["got"]] == [0, 1, 2]
    assert all(g["topic"] == "note" and g["from_is_string"] for g in res["got"])


def test_coroutines_and_channels(harness_factory: Any) -> None:
    res = run(harness_factory, lambda h: _ok(h, "conf:concurrency", 4))
    assert res["total"] == 410
    assert sorted(res["order"]) == [101, 102, 103, 104]
    assert res["doubled"] == [2, 4, 6] and res["closed_ok"] is False and res["default"] is True


def test_determinism_sources(harness_factory: Any) -> None:
    res = run(harness_factory, lambda h: _ok(h, "conf:determinism"))
    assert sorted(res["seen"]) == ["key_20", "key_40", "key_60"]
    assert len(res["id"]) == 36 and res["id"] != res["id_after"]
    assert res["now_int"] is True and res["os_time"] is True


def test_info_version_attrs(harness_factory: Any) -> None:
    async def body(h: Harness) -> Any:
        pid = await h.start("conf:info", {"k": 1}, workflow_id="info-1")
        value, failure = await h.outcome(pid)
        assert failure is None, failure
        return pid, value

    pid, res = run(harness_factory, body)
    assert res["workflow_id"] == "info-1" and res["type"] == "conf:info" and res["task_queue"] == "conformance"
    assert res["namespace"] == "default" and res["attempt"] == 1 and res["run_id_set"]
    assert res["history_grows"] and res["size_positive"]
    assert res["version"] == 3 and res["version_again"] == 3
    assert res["attrs_ok"] is True and res["attrs_err_kind"] == "Invalid" and res["version_err_kind"] == "Invalid"
    assert res["pid"] == pid and res["input"] == {"k": 1}


def test_child_workflows(harness_factory: Any) -> None:
    res = run(harness_factory, lambda h: _ok(h, "conf:children"))
    assert res["a"] == {"child": 1001} and res["b"] == {"child": 1002}
    assert res["fail_kind"] == "Invalid" and res["fail_msg"] == "child failed"
    assert res["spawned"] and res["exit_kind"] == "pid.exit" and res["exit_from_matches"]
    assert res["exit_value"] == {"child": 1003}


def test_futures(harness_factory: Any) -> None:
    res = run(harness_factory, lambda h: _ok(h, "conf:futures"))
    assert res == {
        "v1": 3,
        "v2": "two",
        "closed": True,
        "cached": 3,
        "timed_out": True,
        "canceled": True,
        "cancel_kind": "Canceled",
    }


def test_continue_as_new(harness_factory: Any) -> None:
    res = run(harness_factory, lambda h: _ok(h, "conf:upgrade", 4))
    assert res == {"total": 10, "run": True}


def test_cancellation_event(harness_factory: Any) -> None:
    async def body(h: Harness) -> Any:
        pid = await h.start("conf:cancellable")
        await h.cancel(pid)
        return await h.outcome(pid)

    value, failure = run(harness_factory, body)
    assert value is None and failure is not None and failure.kind == "Canceled" and failure.message == "cancelled"


def test_function_starts_signals_and_execs_workflows(harness_factory: Any) -> None:
    res = run(harness_factory, lambda h: h.call("conf:starter", 2))
    assert res["pid"].startswith("{conf:client@conf:worker|") and res["exec_sum"] == 3
    assert res["send_err"] == "NotFound"


def test_external_ids_and_topics_are_validated(harness_factory: Any) -> None:
    """Both engines refuse the same workflow ids and signal topics, with the same Invalid error;
    the run signalled with forged topics sees only the real messages."""
    bad_ids = ["", "   ", "a\x00b", "tab\tid", "{a@b|c}", "x" * 1001]
    bad_topics = ["", "@future/1", "@timer/1", "@inbox"]

    async def body(h: Harness) -> tuple[list[tuple[str | None, str]], Any, Any]:
        refused: list[tuple[str | None, str]] = []
        for workflow_id in bad_ids:
            with pytest.raises(CallError) as info:
                await h.start("conf:signals", 1, workflow_id=workflow_id)
            refused.append((info.value.failure.kind, info.value.failure.message))
        pid = await h.start("conf:signals", 1)
        for topic in bad_topics:
            with pytest.raises(CallError) as info:
                await h.signal(pid, topic, "forged")
            refused.append((info.value.failure.kind, info.value.failure.message))
        await h.signal(pid, "ctrl", "stop")
        await h.signal(pid, "note", 1)
        value, failure = await h.outcome(pid)
        return refused, value, failure

    refused, value, failure = run(harness_factory, body)
    assert refused == [(INVALID, workflow_id_problem(w)) for w in bad_ids] + [
        (INVALID, topic_problem(t)) for t in bad_topics
    ]
    assert failure is None, failure
    assert value["ctrl"] == "stop" and [g["data"] for g in value["got"]] == [1]
