"""The native Temporal twin of bench/apps/three_steps: a workflow calling three activities
that add one, each fed the previous result; returns their sum (3i + 6 for input {"i": i}).

Kept in a module of its own (only temporalio imports) so the SDK's workflow sandbox can
re-import it; bench/lua_vs_native_temporal.py runs it in a worker subprocess.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

TIMEOUT = timedelta(seconds=30)


@activity.defn
async def step1(x: int) -> int:
    return x + 1


@activity.defn
async def step2(x: int) -> int:
    return x + 1


@activity.defn
async def step3(x: int) -> int:
    return x + 1


@workflow.defn(name="NativeThreeSteps")
class NativeThreeSteps:
    @workflow.run
    async def run(self, inp: dict[str, int]) -> int:
        a = await workflow.execute_activity(step1, inp["i"], start_to_close_timeout=TIMEOUT)
        b = await workflow.execute_activity(step2, a, start_to_close_timeout=TIMEOUT)
        c = await workflow.execute_activity(step3, b, start_to_close_timeout=TIMEOUT)
        return a + b + c


ACTIVITIES = [step1, step2, step3]
