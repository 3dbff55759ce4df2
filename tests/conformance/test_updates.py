"""Updates and queries (spec workflows.md §7.5, §7.6, issue 10 items 6-7) on every engine: one
counter workflow driven by updates from the engine API, from the engine's own CLI (`duralua
workflow update` / `temporal workflow update execute`) and by messages from a Lua function; the
same replies everywhere."""

from __future__ import annotations

import re
from typing import Any

import pytest

from duralua.errors import INTERNAL, INVALID, CallError

from .conftest import Harness, run

STEPS: list[tuple[Any, ...]] = [
    ("increment", 5),
    ("decrement", 2),
    ("increment", "x"),
    ("get",),
    ("fail",),
    ("misuse",),
    ("bogus",),
]


def test_update_counter(harness_factory: Any) -> None:
    async def body(h: Harness) -> dict[str, Any]:
        out: dict[str, Any] = {}
        pid = await h.start("conf:counter", 10, workflow_id="counter-1")
        out["api"] = []
        for name, *args in STEPS:
            value, failure = await h.update(pid, name, *args)
            out["api"].append((value, None if failure is None else (failure.kind, failure.message)))
        out["queries"] = {name: await h.query(pid, name) for name in ("pid", "state", "ops")}
        with pytest.raises(CallError) as unknown:
            await h.query(pid, "nope")
        out["unknown_query"] = (unknown.value.failure.kind, unknown.value.failure.message)
        with pytest.raises(CallError) as bad_name:
            await h.update(pid, "@inbox")
        out["bad_name"] = bad_name.value.failure.kind
        out["cli"] = [await h.cli_update("counter-1", "increment", "100"),
                      await h.cli_update("counter-1", "increment", '"y"')]  # fmt: skip
        out["lua"] = await h.call("conf:counter_client", pid)
        out["finish"] = await h.update(pid, "finish")
        out["outcome"] = await h.outcome(pid)
        with pytest.raises(CallError) as closed:
            await h.update(pid, "get")
        out["closed"] = closed.value.failure.kind
        out["closed_state"] = await h.query(pid, "state")
        return out

    out = run(harness_factory, body)
    # The misuse reply names the update id, which each engine generates.
    api = [(v, (f[0], re.sub(r"update \S+ was", "update <id> was", f[1])) if f else None) for v, f in out["api"]]
    assert api == [
        (15, None),
        (13, None),
        (None, (INVALID, "increment needs a number")),
        (13, None),
        (None, (INTERNAL, "asked to fail at 13")),
        (None, (INVALID, "update <id> was not accepted yet (reply ack first); cannot reply ok")),
        (None, (INVALID, "unknown operation bogus")),
    ]
    assert out["queries"] == {"pid": "counter-1", "state": {"value": 13}, "ops": 7}
    assert out["unknown_query"] == (INVALID, "unknown query type: nope") and out["bad_name"] == INVALID
    (ok_code, ok_out), (nak_code, nak_out) = out["cli"]
    assert ok_code == 0 and _cli_result(ok_out) == 113, ok_out
    assert nak_code != 0 and "increment needs a number" in str(nak_out), nak_out
    assert out["lua"] == [
        [["ack"], ["ok", 118]],
        [["ack"], ["ok", 116]],
        [["nak", "increment needs a number"]],
        [["ack"], ["ok", 116]],
        [["ack"], ["error", "asked to fail at 116"]],
        [["nak", "unknown operation bogus"]],
    ]
    assert out["finish"] == (116, None) and out["outcome"] == (116, None)
    assert out["closed_state"] == {"value": 116} and out["closed"] == "NotFound"


def _cli_result(output: Any) -> Any:
    # duralua prints {"result": ...}; the temporal CLI prints {"name", "updateId", "result"}.
    return output.get("result") if isinstance(output, dict) else output
