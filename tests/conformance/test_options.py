"""Start options on every engine (issue 10 item 5): timeouts, start delay, cron schedules and id
policies give the same outcome on the embedded engine (virtual clock) and on Temporal."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from duralua.errors import INVALID, TIMEOUT, CallError

from .conftest import Harness, run


def test_timeouts_and_start_delay(harness_factory: Any) -> None:
    async def body(h: Harness) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("run_timeout", "execution_timeout"):
            pid = await h.start("conf:sleepy", 2000, options={f"workflow.{key}": "500ms"})
            out[key] = await h.outcome(pid)
        before = h.now_ms()
        pid = await h.start("conf:sleepy", 0, options={"workflow.start_delay": "1500ms"})
        value, failure = await h.outcome(pid)
        assert failure is None, failure
        out["delay_ms"] = value["first_ms"] - before
        pid = await h.start("conf:sleepy", 10, options={"workflow.task_timeout": "10s", "workflow.run_timeout": "1m"})
        out["within"] = await h.outcome(pid)
        # A timed-out run is retried by its retry policy (Temporal's rule), each attempt a run.
        policy = {"maximum_attempts": 2, "initial_interval": "1s"}
        retried = {"workflow.run_timeout": "1s", "workflow.retry_policy": policy}
        pid = await h.start("conf:sleepy", 3000, workflow_id="retried", options=retried)
        out["retried"] = (await h.outcome(pid))[1]
        out["retried_runs"] = [r.status for r in await h.runs("retried")]
        # The run timeout counts from the first task, the execution timeout from the start.
        for key in ("run_timeout", "execution_timeout"):
            delayed = {"workflow.start_delay": "3s", f"workflow.{key}": "1500ms"}
            out[f"delayed_{key}"] = (await h.outcome(await h.start("conf:sleepy", 0, options=delayed)))[1]
        return out

    out = run(harness_factory, body)
    for key, which in (("run_timeout", "run"), ("execution_timeout", "execution")):
        value, failure = out[key]
        assert value is None and failure is not None, key
        assert (failure.kind, failure.retryable, failure.message) == (TIMEOUT, False, f"workflow {which} timeout")
        assert failure.details == {"timeout_type": which}
    assert out["delay_ms"] >= 1500
    assert out["within"][1] is None and out["within"][0]["first_ms"] > 0
    assert out["retried"] is not None and out["retried"].kind == TIMEOUT
    assert out["retried_runs"] == ["timed_out", "timed_out"]
    assert out["delayed_run_timeout"] is None
    assert out["delayed_execution_timeout"] is not None and out["delayed_execution_timeout"].kind == TIMEOUT


def test_refused_option_combinations(harness_factory: Any) -> None:
    """What Temporal's server refuses, both engines refuse before starting, with one message."""
    cases = [
        {"workflow.cron_schedule": "@every 1m", "workflow.start_delay": "1s"},
        {"workflow.id_reuse_policy": "terminate_if_running", "workflow.id_conflict_policy": "fail"},
        {"workflow.cron_schedule": "* * * * * *"},
        {"workflow.cron_schedule": "bogus"},
        {"workflow.run_timeout": "-1s"},
    ]

    async def body(h: Harness) -> tuple[list[tuple[str | None, str]], Any]:
        refused = []
        for options in cases:
            with pytest.raises(CallError) as info:
                await h.start("conf:sleepy", 0, options=options)
            refused.append((info.value.failure.kind, info.value.failure.message))
        child = await h.outcome(await h.start("conf:delayed_child"))
        return refused, child

    refused, (child, failure) = run(harness_factory, body)
    assert [k for k, _ in refused] == [INVALID] * len(cases)
    assert "cannot be used together" in refused[0][1] and "terminate_existing instead" in refused[1][1]
    assert "expected 5 fields" in refused[2][1] and "invalid cron schedule 'bogus'" in refused[3][1]
    assert "must not be negative" in refused[4][1]
    assert failure is None and child.get("pid") is None and child["kind"] == INVALID
    assert "only to top-level starts" in child["message"]


def test_id_reuse_and_conflict_policies(harness_factory: Any) -> None:
    async def body(h: Harness) -> dict[str, Any]:
        out: dict[str, Any] = {}

        async def refused(workflow_id: str, arg: int, **options: Any) -> str | None:
            try:
                await h.start("conf:sleepy", arg, workflow_id=workflow_id,
                              options={f"workflow.{k}": v for k, v in options.items()})  # fmt: skip
            except CallError as exc:
                return exc.failure.kind
            return None

        # closed runs: the reuse policy decides
        await h.outcome(await h.start("conf:sleepy", 0, workflow_id="reuse-ok"))
        out["reject"] = await refused("reuse-ok", 0, id_reuse_policy="reject_duplicate")
        out["failed_only_after_ok"] = await refused("reuse-ok", 0, id_reuse_policy="allow_duplicate_failed_only")
        out["allow"] = await refused("reuse-ok", 0, id_reuse_policy="allow_duplicate")
        await h.outcome("reuse-ok")
        await h.outcome(await h.start("conf:sleepy", -1, workflow_id="reuse-failed"))
        out["failed_only_after_fail"] = await refused("reuse-failed", 0, id_reuse_policy="allow_duplicate_failed_only")
        out["after_fail"] = await h.outcome("reuse-failed")
        # a running run: the conflict policy decides
        first = await h.start("conf:sleepy", 60_000, workflow_id="conflict")
        out["use_existing_same_pid"] = await h.start("conf:sleepy", 0, workflow_id="conflict") == first
        out["fail"] = await refused("conflict", 0, id_conflict_policy="fail")
        out["terminate_existing"] = await refused("conflict", 0, id_conflict_policy="terminate_existing")
        out["after_terminate_existing"] = await h.outcome("conflict")
        second = await h.start("conf:sleepy", 60_000, workflow_id="reuse-tir")
        out["terminate_if_running"] = await refused("reuse-tir", 0, id_reuse_policy="terminate_if_running")
        out["after_tir"] = await h.outcome(second)
        out["runs"] = {wid: [r.status for r in await h.runs(wid)] for wid in ("reuse-ok", "conflict", "reuse-tir")}
        children, failure = await h.outcome(await h.start("conf:child_reuse"))
        assert failure is None, failure
        out["children"] = children
        return out

    out = run(harness_factory, body)
    assert out["children"] == {"first": "started", "reject": "AlreadyExists", "failed_only": "AlreadyExists",
                               "allow": "started"}  # fmt: skip
    assert out["reject"] == "AlreadyExists" and out["failed_only_after_ok"] == "AlreadyExists"
    assert out["allow"] is None and out["failed_only_after_fail"] is None
    assert out["after_fail"][1] is None
    assert out["use_existing_same_pid"] and out["fail"] == "AlreadyExists" and out["terminate_existing"] is None
    assert out["after_terminate_existing"][1] is None and out["terminate_if_running"] is None
    assert out["after_tir"][1] is None
    assert out["runs"] == {
        "reuse-ok": ["completed", "completed"],
        "conflict": ["terminated", "completed"],
        "reuse-tir": ["terminated", "completed"],
    }


def test_cron_schedule(harness_factory: Any) -> None:
    """The first run waits for the next match; each run is a new run of the same id; terminate
    and cancel stop the chain."""

    async def body(h: Harness) -> dict[str, Any]:
        before = h.now_ms()
        pid = await h.start("conf:tick", workflow_id="cron-ticks", options={"workflow.cron_schedule": "@every 2s"})
        # One execution deadline for the whole chain: the run waiting for 6 s times out at 5 s.
        await h.start("conf:tick", workflow_id="cron-deadline",
                      options={"workflow.cron_schedule": "@every 2s", "workflow.execution_timeout": "5s"})  # fmt: skip
        await h.sleep(7)
        await h.terminate(pid)
        await h.sleep(3)
        ticks = await h.runs("cron-ticks")
        deadline = [r.status for r in await h.runs("cron-deadline")]
        every = {"workflow.cron_schedule": "@every 2s"}
        pid = await h.start("conf:cancellable", workflow_id="cron-cancel", options=every)
        await h.sleep(3)
        await h.cancel(pid)
        await h.sleep(4)
        cancelled = await h.runs("cron-cancel")
        return {"before": before, "ticks": ticks, "cancelled": cancelled, "deadline": deadline}

    out = run(harness_factory, body)
    ticks = out["ticks"]
    statuses = [r.status for r in ticks]
    assert statuses[-1] == "terminated" and set(statuses[:-1]) == {"completed"} and len(statuses) >= 3, statuses
    times = [r.result["at_ms"] for r in ticks if r.status == "completed"]
    assert times[0] - out["before"] >= 1000  # waited for the first match (whole seconds)
    assert all(1000 <= b - a <= 3000 for a, b in itertools.pairwise(times)), times
    assert len({r.run_id for r in ticks}) == len(ticks)
    assert out["deadline"] == ["completed", "completed", "timed_out"], out["deadline"]
    cancelled = out["cancelled"]
    assert [r.status for r in cancelled] == ["canceled"], [(r.status, r.failure) for r in cancelled]
    assert cancelled[0].failure is not None and cancelled[0].failure.kind == "Canceled"


def test_worker_limits(harness_factory: Any) -> None:
    """worker_options limit activities alike: two slots make six 1 s activities take 3 s, two
    starts a second spread ten quick ones over more than two seconds."""

    async def body(h: Harness) -> dict[str, int]:
        out = {}
        for name, workflow, activity, arg in (
            ("plain_slow", "conf:fanout", "conf:slow", "1s"),
            ("slots", "conf:fanout_limited", "conf:slow_limited", "1s"),
            ("plain_quick", "conf:fanout", "conf:echo", 1),
            ("rate", "conf:fanout_rated", "conf:echo_rated", 1),
        ):
            # Ten quick ones: a rate limiter idle for a while lets a small burst through first.
            count = 10 if name in ("plain_quick", "rate") else 6
            value, failure = await h.outcome(await h.start(workflow, activity, count, arg))
            assert failure is None, (name, failure)
            out[name] = value["elapsed_ms"]
        return out

    out = run(harness_factory, body)
    assert out["plain_slow"] < 2500 and out["slots"] >= 3000, out
    assert out["plain_quick"] < 1000 and out["rate"] >= 2000, out


def test_seed_search_attributes_work_out_of_the_box(harness_factory: Any) -> None:
    """workflow.attrs{search = {status=..., customer_id=..., order_total=...}} as the seed writes
    it: on a dev server the attributes are registered (literal at worker start, computed ones
    at first use), so the upsert succeeds and the run is found by them."""

    async def body(h: Harness) -> tuple[Any, Any]:
        pid = await h.start("conf:seed_attrs", {"customer_id": "c-7", "total": 30.5}, workflow_id="seed-attrs")
        value, failure = await h.outcome(pid)
        assert failure is None, failure
        runs = await h.runs("seed-attrs")
        return value, runs[0].search

    value, attrs = run(harness_factory, body)
    assert value == {"ok": True}
    # Temporal adds system attributes (BuildIds) of its own.
    mine = {k: v for k, v in attrs.items() if k in ("status", "customer_id", "order_total")}
    assert mine == {"status": "processing", "customer_id": "c-7", "order_total": 30.5}
