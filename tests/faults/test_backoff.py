"""Retry backoff never overflows (issue 7, item 11: "backoff capped before the power").

The engine computed ``initial * coefficient ** (attempt - 1)`` before capping it, which raises
OverflowError once the power exceeds a float (after ~1,024 attempts with coefficient 2: about
27 hours of failures with the default 1 s interval), and the activity was stuck for good. The
virtual clock of WorkflowEnvironment fast-forwards through days of retries.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from duralua import App, CallError
from duralua.errors import Failure
from duralua.testing import WorkflowEnvironment

from .support import APP

CASES = {
    # name: (activity options, the attempt that finally succeeds, at least this many hours pass)
    "1s-x2-no-maximum": ({"activity.retry_policy": {"initial_interval": "1s", "backoff_coefficient": 2}}, 1100, 27),
    "1ms-x1000": ({"activity.retry_policy": {"initial_interval": "1ms", "backoff_coefficient": 1000}}, 150, 0),
    "with-schedule-to-close": (
        {
            "activity.retry_policy": {"initial_interval": "1s", "backoff_coefficient": 3},
            "activity.schedule_to_close_timeout": "10000h",
        },
        700,
        0,
    ),
}


async def _run(db: Path, options: dict[str, Any], succeed_at: int) -> tuple[Any, int]:
    app = App(APP, log=None)
    calls = 0

    @app.function("faults:flaky", worker="faults:worker")
    def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls < succeed_at:
            raise CallError(Failure(f"attempt {calls} failed", "Unavailable", True))
        return calls

    async with WorkflowEnvironment(app, db=db) as env:
        pid = await env.start("faults:backoff", "faults:worker", options)
        try:
            value = await env.result(pid, timeout=20)
        except TimeoutError:
            value = f"no result within 20 s; the activity stopped after {calls} attempt(s)"
    return value, calls


@pytest.mark.parametrize("case", list(CASES))
def test_retry_backoff_does_not_overflow(tmp_path: Path, case: str) -> None:
    options, succeed_at, min_hours = CASES[case]
    value, calls = asyncio.run(_run(tmp_path / "backoff.db", options, succeed_at))
    assert isinstance(value, dict) and value.get("value") == succeed_at, (value, calls)
    assert calls == succeed_at
    assert value["hours"] >= min_hours, value
