"""Values that cannot cross a boundary end their run or attempt with a Failure (issue 7, items 1-2).

Binary (non-UTF-8) strings, error values whose ``__tostring`` raises or loops, tampered
driver objects: each workflow below used to raise a Python exception out of the Lua layer
(killing the engine's activation task) or to freeze the process. Now the run fails with a
clear reason, healthy runs started around it complete, and an activity attempt with such a
value ends (so its retry policy applies) instead of never reporting back.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest

from duralua import App, CallError
from duralua.errors import Failure
from duralua.testing import WorkflowEnvironment

BUDGET = 2_000_000
# The main coroutine exports its own result, under the run's budget: a value too big to
# convert in it holds the run like any runaway loop.
HELD = {"huge_dag"}

POISON = """
local crypto = require("crypto")
local funcs = require("funcs")
local time = require("time")

local function binary() return "\\xff\\xfe" .. crypto.random.bytes(8) end
local retry2 = {["activity.retry_policy"] = {maximum_attempts = 2, initial_interval = "1ms"}}

local function err_parts(v, err)
  if err == nil then return {value = v} end
  return {kind = err:kind(), message = err:message(), retryable = err:retryable()}
end

local cases = {}
cases.bin_return = function() return binary() end
cases.bin_nested = function() return {a = {"ok", binary()}} end
cases.bin_key = function() return {[binary()] = 1} end
cases.bin_raise = function() error(binary()) end
cases.bin_err_return = function() return nil, binary() end
cases.bin_error_object = function() error(errors.new(binary())) end
cases.bin_in_raised_table = function() error({msg = binary()}) end
cases.tostring_raises = function() error(setmetatable({}, {__tostring = function() error("boom") end})) end
cases.tostring_loops = function() error(setmetatable({}, {__tostring = function() while true do end end})) end
cases.tostring_binary = function() error(setmetatable({}, {__tostring = function() return "\\xff" end})) end
cases.tostring_yields = function()
  error(setmetatable({}, {__tostring = function() return tostring(time.sleep("1s")) end}))
end
cases.err_tostring_loops = function()
  return nil, setmetatable({}, {__tostring = function() while true do end end})
end
cases.damaged_error = function()
  local e = errors.new("x")
  e._m = setmetatable({}, {__tostring = function() while true do end end})
  error(e)
end
cases.huge_dag = function()
  local t = {}
  for _ = 1, 60 do t = {t, t} end
  return t
end
cases.channel_tamper = function()
  local ch = channel.new(1)
  ch.id = "x"
  rawset(ch, "id", {})
  ch:send(41)
  return ch:receive() + 1
end
cases.select_tamper = function()
  local ch = channel.new(1)
  local case = ch:case_send(1)
  case.ch = {id = "forged"}
  local ok = pcall(channel.select, {case})
  return ok
end
cases.future_tamper = function()
  local f = funcs.async("p:echo", 5)
  f._seq, f._topic = 999, "@timer/1"
  local r = f:response():receive()
  return r:data()
end
cases.timer_tamper = function()
  local t = time.timer("1s")
  t._topic, t._kind = "@future/1", "ticker"
  local v = t:response():receive()
  return type(v)
end
cases.duration_tamper = function()
  local d = time.parse_duration("1s")
  rawset(d, "_ns", 2 ^ 80)
  return err_parts(time.sleep(d))
end
cases.bin_activity_arg = function() return err_parts(funcs.call("p:echo", {x = binary()})) end
cases.bin_activity_id = function() return err_parts(funcs.call(binary(), 1)) end
cases.bin_send = function() return err_parts(process.send(process.pid(), "t", binary())) end
cases.bin_spawn = function() return err_parts(process.spawn("p:healthy", "p:worker", binary())) end
cases.bin_listen = function() return err_parts(process.listen(binary())) end
cases.bin_sleep = function() return err_parts(time.sleep(binary())) end
cases.bin_options = function()
  return err_parts(funcs.new():with_options({[binary()] = 1}):call("p:echo", 1))
end
cases.act_bin_result = function() return err_parts(funcs.new():with_options(retry2):call("p:bin_result")) end
cases.act_bin_raise = function() return err_parts(funcs.new():with_options(retry2):call("p:bin_raise")) end
cases.act_tostring_loops = function()
  return err_parts(funcs.new():with_options(retry2):call("p:tostring_loops"))
end
cases.act_tostring_raises = function()
  return err_parts(funcs.new():with_options(retry2):call("p:tostring_raises"))
end

return {main = function(name) return cases[name]() end}
"""

ACTS = """
local crypto = require("crypto")
return {
  echo = function(x) return x end,
  bin_result = function() return "\\xff" .. crypto.random.bytes(4) end,
  bin_raise = function() error("\\xff\\xfe") end,
  tostring_loops = function() error(setmetatable({}, {__tostring = function() while true do end end})) end,
  tostring_raises = function() error(setmetatable({}, {__tostring = function() error("inner") end})) end,
}
"""

INDEX = """
version: "1.0"
namespace: p
entries:
  - {name: client, kind: temporal.client, address: "127.0.0.1:7233"}
  - {name: worker, kind: temporal.worker, client: client, task_queue: p}
  - {name: poison, kind: workflow.lua, source: file://poison.lua, method: main, modules: [crypto, funcs, time],
     meta: {temporal: {workflow: {worker: worker}}}}
  - {name: healthy, kind: workflow.lua, source: file://healthy.lua, modules: [funcs],
     meta: {temporal: {workflow: {worker: worker}}}}
"""

HEALTHY = 'local funcs = require("funcs")\nreturn function(x) return funcs.call("p:echo", x or 1) end\n'


def write_app(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "wippy.lock").write_text("directories:\n  src: ./src\n  modules: .wippy\n")
    index = textwrap.dedent(INDEX)
    for name in ("echo", "bin_result", "bin_raise", "tostring_loops", "tostring_raises"):
        index += f"  - {{name: {name}, kind: function.lua, source: file://acts.lua, method: {name},\n"
        index += "     modules: [crypto], meta: {temporal: {activity: {worker: worker}}}}\n"
    (root / "src" / "_index.yaml").write_text(index)
    (root / "src" / "poison.lua").write_text(POISON)
    (root / "src" / "acts.lua").write_text(ACTS)
    (root / "src" / "healthy.lua").write_text(HEALTHY)
    return root


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Failure | None]]:
    """Every case, started between healthy runs on one engine."""
    root = write_app(tmp_path_factory.mktemp("poison") / "app")
    names = [line.split(".", 1)[1].split(" ", 1)[0] for line in POISON.splitlines() if line.startswith("cases.")]

    async def body() -> dict[str, tuple[Any, Failure | None]]:
        app = App(root, log=None, instruction_budget=BUDGET)
        async with WorkflowEnvironment(app) as env:
            pids: dict[str, str] = {}
            for i, name in enumerate(names):
                pids[f"healthy-{i}"] = await env.start("p:healthy", "p:worker", i)
                pids[name] = await env.start("p:poison", "p:worker", name)
            pids["healthy-last"] = await env.start("p:healthy", "p:worker", 100)
            out = {key: await env.outcome(pid, timeout=30) for key, pid in pids.items() if key not in HELD}
            await env.idle()
            for key in HELD:  # held, not failed: the run's own budget ran out
                row = await env.engine.describe(pids[key])
                out[key] = (row.status, Failure(row.reason or "", "held"))
            return out

    return asyncio.run(asyncio.wait_for(body(), 120))


def failed(outcomes: dict[str, tuple[Any, Failure | None]], name: str) -> Failure:
    value, failure = outcomes[name]
    assert failure is not None, f"{name} completed with {value!r}"
    assert "Traceback" not in failure.message and "lupa" not in failure.message
    return failure


def returned(outcomes: dict[str, tuple[Any, Failure | None]], name: str) -> Any:
    value, failure = outcomes[name]
    assert failure is None, f"{name} failed: {failure}"
    return value


def test_healthy_runs_around_the_poison_complete(outcomes: dict[str, tuple[Any, Failure | None]]) -> None:
    healthy = {k: v for k, v in outcomes.items() if k.startswith("healthy-")}
    assert len(healthy) > 20
    for key, (value, failure) in healthy.items():
        assert failure is None, (key, failure)
        assert value == (100 if key == "healthy-last" else int(key.split("-")[1]))


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("bin_return", "result: "),
        ("bin_nested", "result.a[2]: "),
        ("bin_key", "result: a table key is a "),
        ("bin_raise", "error: "),
        ("bin_err_return", "error: "),
        ("bin_error_object", "error: the error message is a "),
        ("bin_in_raised_table", "error.msg: "),
        ("tostring_binary", "error (tostring of the error value): "),
    ],
)
def test_binary_strings_fail_the_run_as_invalid(
    outcomes: dict[str, tuple[Any, Failure | None]], name: str, where: str
) -> None:
    failure = failed(outcomes, name)
    assert failure.kind == "Invalid" and failure.retryable is False
    assert failure.message.startswith(where + "binary string (not valid UTF-8)"), failure.message
    assert "base64.encode" in failure.message


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("tostring_raises", "(error value could not be converted: "),
        ("tostring_loops", "(error value could not be converted: instruction budget exceeded)"),
        ("tostring_yields", "(error value could not be converted: attempt to yield across a C-call boundary)"),
        ("err_tostring_loops", "(error value could not be converted: instruction budget exceeded)"),
        ("damaged_error", "damaged error object"),
    ],
)
def test_unconvertible_error_values_fail_with_a_fallback_text(
    outcomes: dict[str, tuple[Any, Failure | None]], name: str, text: str
) -> None:
    failure = failed(outcomes, name)
    assert text in failure.message, failure.message
    if name == "tostring_raises":
        assert "boom" in failure.message


def test_a_result_too_big_to_convert_holds_the_run(outcomes: dict[str, tuple[Any, Failure | None]]) -> None:
    status, reason = outcomes["huge_dag"]
    assert status == "held" and reason is not None and "instruction budget" in reason.message


def test_tampered_driver_objects_change_nothing_the_host_sees(outcomes: dict[str, tuple[Any, Failure | None]]) -> None:
    assert returned(outcomes, "channel_tamper") == 42
    assert returned(outcomes, "select_tamper") is False  # not a channel case: a Lua error
    assert returned(outcomes, "future_tamper") == 5
    assert returned(outcomes, "timer_tamper") == "userdata"  # the timer fired as a timer
    assert returned(outcomes, "duration_tamper")["kind"] == "Invalid"


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("bin_activity_arg", "args[1].x: binary string"),
        ("bin_activity_id", "function ID: binary string"),
        ("bin_send", "payload[1]: binary string"),
        ("bin_spawn", "args[1]: binary string"),
        ("bin_listen", "topic: binary string"),
        ("bin_sleep", "duration: binary string"),
        ("bin_options", "options: a table key is a binary string"),
    ],
)
def test_binary_arguments_are_the_callers_invalid_error(
    outcomes: dict[str, tuple[Any, Failure | None]], name: str, where: str
) -> None:
    err = returned(outcomes, name)
    assert err["kind"] == "Invalid" and err["retryable"] is False
    assert err["message"].startswith(where), err["message"]


def test_activities_with_such_values_end_their_attempts(outcomes: dict[str, tuple[Any, Failure | None]]) -> None:
    result = returned(outcomes, "act_bin_result")
    assert result["kind"] == "Invalid" and result["retryable"] is False
    assert result["message"].startswith("result: binary string")
    raised = returned(outcomes, "act_bin_raise")
    assert raised["kind"] == "Invalid" and raised["message"].startswith("error: binary string")
    loops = returned(outcomes, "act_tostring_loops")  # retried (retryable unknown), then given up
    assert loops["message"] == "(error value could not be converted: instruction budget exceeded)"
    raises = returned(outcomes, "act_tostring_raises")
    assert "inner" in raises["message"] and raises["kind"] == "Internal"


def test_function_calls_fail_the_same_way(tmp_path: Path) -> None:
    app = App(write_app(tmp_path / "app"), log=None, instruction_budget=BUDGET)
    with pytest.raises(CallError) as binary:
        app.call("p:bin_result")
    assert binary.value.failure.kind == "Invalid" and "base64.encode" in binary.value.failure.message
    with pytest.raises(CallError) as loops:
        app.call("p:tostring_loops")
    assert loops.value.failure.message == "(error value could not be converted: instruction budget exceeded)"
    assert app.call("p:echo", {"ok": [1]}) == {"ok": [1]}  # the pooled state still serves
