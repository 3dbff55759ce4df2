"""workflow.info().continue_as_new_suggested on every engine (issue 13).

The threshold is lowered so that the case stays cheap: 60 events on the embedded engine here,
and ``limit.historyCount.suggestContinueAsNew`` on the Temporal dev server of the test session
(tests/temporal/harness.py). The engines count events differently (Temporal records six per
activity call, the embedded engine three), so the case checks the behaviour, not the counts.
"""

from __future__ import annotations

from typing import Any

from duralua.core.history import HistoryLimits

from .conftest import Harness, run

#: Also the dev server's limit.historyCount.suggestContinueAsNew (tests/temporal/harness.py).
SUGGEST_EVENTS = 60


def test_continue_as_new_is_suggested_when_the_history_grows(harness_factory: Any) -> None:
    async def body(h: Harness) -> Any:
        env = getattr(h, "env", None)
        if env is not None:
            env.engine.history_limits = HistoryLimits(suggest_events=SUGGEST_EVENTS)
        value, failure = await h.outcome(await h.start("conf:long_history", 100))
        assert failure is None, f"{h.name}: {failure}"
        return value

    res = run(harness_factory, body)
    assert "never" not in res, res
    for run_ in (res["previous"], res["last"]):
        # Not suggested when a run starts; suggested after some calls, well before 100.
        assert run_["first"] is False and 0 < run_["calls"] < 100, res
