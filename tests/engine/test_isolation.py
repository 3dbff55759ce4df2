"""Runs that share a pooled Lua state cannot reach each other (issue 7, item 4).

One run tries to patch every driver class, module table and shared object it can reach (by
writing into objects, through ``__index``, ``getmetatable``, ``rawset``, ``pairs``); the next
run of the same entry, on the same Lua state, checks that everything behaves as new. Other
workflows try to reach the driver's op token (``coroutine.wrap``/``resume`` around blocking
calls, resuming the process's own coroutines) and to forge ops: the token never shows and a
forged yield fails only its own run.
"""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest

from duralua import App
from duralua.errors import Failure
from duralua.lua import process as lua_process
from duralua.testing import WorkflowEnvironment

PATCHER = r"""
local time, funcs, payload, json = require("time"), require("funcs"), require("payload"), require("json")
local uuid, crypto, hash, base64 = require("uuid"), require("crypto"), require("hash"), require("base64")
local workflow, ctx = require("workflow"), require("ctx")

local METHODS = {"send", "receive", "close", "len", "case_send", "case_receive", "topic", "from", "payload",
  "response", "channel", "result", "error", "cancel", "is_complete", "stop", "reset", "spawn", "with_options",
  "with_context", "with_name", "with_message", "call", "async", "kind", "message", "retryable", "details",
  "stack", "add", "sub", "unix", "format", "string", "hours", "seconds", "data", "get_format", "transcode",
  "unmarshal", "location", "utc", "__index", "__tostring", "__name", "__userdata"}

local function evil() return "patched" end

local function objects()
  local msg = process.inbox():receive()
  return {
    channel = channel.new(1), future = funcs.async("i:echo", 1), timer = time.timer("1h"),
    ticker = time.ticker("1h"), spawner = process.with_options({}), executor = funcs.new(),
    error = errors.new("x"), time = time.now(), duration = time.parse_duration("1s"), utc = time.utc,
    localtz = time.localtz, fixed = time.fixed_zone("X", 60), payload = payload.new(1), message = msg,
  }
end

local MODULES = {time = time, funcs = funcs, payload = payload, json = json, uuid = uuid, crypto = crypto,
  hash = hash, base64 = base64, workflow = workflow, ctx = ctx, process = process, channel = channel,
  errors = errors, coroutine = coroutine, os = os}

-- Everything reachable from `v` without debug: its metatable, __index, raw fields, pairs.
local function reachable(v, out)
  local function add(t) if type(t) == "table" then out[#out + 1] = t end end
  add(getmetatable(v))
  pcall(function() add(v.__index) end)
  pcall(function() add(v.__metatable) end)
  pcall(function() add(rawget(v, "__index")) end)
  for _, m in ipairs(METHODS) do pcall(function() add(v[m]) end) end
  pcall(function() for _, x in pairs(v) do add(x) end end)
  return out
end

local function patch()
  local objs = objects()
  local found = {}
  for _, o in pairs(objs) do reachable(o, found) end
  for _, t in ipairs(found) do
    pcall(function()
      t.evil = true
      for _, m in ipairs(METHODS) do t[m] = evil end
    end)
  end
  for _, o in pairs(objs) do
    for _, m in ipairs(METHODS) do pcall(rawset, o, m, evil) end
    pcall(rawset, o, "_name", "patched")
    pcall(rawset, o, "_kind", "fixed")
    pcall(rawset, o, "_off", 3600)
    pcall(rawset, o, "id", "x")
  end
  for _, m in pairs(MODULES) do
    for k, v in pairs(m) do
      if type(v) == "table" then
        pcall(function() v.evil = true for k2 in pairs(v) do v[k2] = evil end end)
      end
      m[k] = evil
    end
    m.evil = true
  end
  return #found
end

local function check()
  local objs = objects()
  local ok = {}
  for name, o in pairs(objs) do
    ok[name .. ".clean"] = rawget(o, "evil") == nil and rawget(o, "send") == nil and rawget(o, "string") == nil
      and getmetatable(o) == false and o.__index == nil
  end
  local ch = objs.channel
  ch:send(5)
  ok.channel_works = ch:receive() == 5 and ch:len() == 0 and tostring(ch):sub(1, 8) == "channel{"
  ok.future_works = objs.future:response():receive():data() == 1 and objs.future:is_complete()
  ok.timer_works = objs.timer:stop() == true and objs.ticker:stop() == true
  ok.spawner_works = type(objs.spawner:with_name("n")) == "userdata"
  ok.executor_works = objs.executor:call("i:echo", 2) == 2
  ok.error_works = objs.error:kind() == "" and objs.error:message() == "x" and tostring(objs.error) == "x"
  ok.time_works = objs.time:year() > 2000 and objs.time:location():string() == "Local"
  ok.duration_works = objs.duration:seconds() == 1
  ok.utc_works = time.utc:string() == "UTC" and time.now():utc():location():string() == "UTC"
    and time.utc:string() == tostring(time.utc)
  ok.local_works = time.localtz:string() == "Local" and select(2, time.now():zone()) == 0
  ok.payload_works = objs.payload:data() == 1 and objs.payload:get_format() == "lua/any"
  ok.message_works = objs.message:topic() == "go" and objs.message:payload():data() == 1
  for name, m in pairs(MODULES) do
    local clean = rawget(m, "evil") == nil
    for k, v in pairs(m) do
      if v == evil or (type(v) == "table" and rawget(v, "evil") ~= nil) then clean = false end
      if type(v) == "table" then for _, x in pairs(v) do if x == evil then clean = false end end end
    end
    ok["module." .. name] = clean
  end
  ok.event = process.event.EXIT == "pid.exit" and payload.format.JSON == "json/plain"
  ok.functions = type(crypto.random.bytes) == "function" and #crypto.random.bytes(3) == 3
    and uuid.validate(uuid.v4()) and json.encode({a = 1}) == '{"a":1}' and type(process.registry.lookup) == "function"
  return ok
end

return function(mode)
  if mode == "patch" then return {found = patch()} end
  return check()
end
"""

TOKEN = r"""
local time = require("time")

local function kinds(t)
  local out = {}
  for i = 1, t.n do out[i] = type(t[i]) end
  return out
end

return function()
  local r = {}
  -- a blocking call inside coroutine.wrap / coroutine.resume: forwarded, never seen
  r.wrap_sleep = kinds(table.pack(coroutine.wrap(function() return time.sleep("1ms") end)()))
  local ch = channel.new(1)
  local co = coroutine.create(function() local v, ok = ch:receive() return v, ok end)
  coroutine.spawn(function() time.sleep("5ms") ch:send(7) end)
  r.resume_receive = {coroutine.resume(co)}
  -- generators still work
  local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
  r.generator = {gen(), gen(), gen()}
  -- nested: a blocking call two coroutines deep
  r.nested = {coroutine.wrap(function()
    return coroutine.wrap(function() return select("#", time.sleep("1ms")), "deep" end)()
  end)()}
  -- the process's own coroutines cannot be resumed, closed or yielded from
  local main = coroutine.running()
  r.main_yieldable = coroutine.isyieldable()
  r.yield_main = {pcall(coroutine.yield, {}, "recv", 1)}
  r.close_main = {coroutine.close(main)}
  local parked
  local done = channel.new(1)
  local blocker = channel.new(0)
  parked = coroutine.create(function() return blocker:receive() end)
  coroutine.spawn(function()
    time.sleep("1ms")
    local a = {coroutine.resume(main, "forged", 1)}
    local b = {coroutine.resume(parked, "forged", true)}
    local c = {coroutine.close(parked)}
    blocker:send("real")
    done:send({a, b, c})
  end)
  r.parked = {coroutine.resume(parked)}
  r.from_other = done:receive()
  -- a blocking call where Lua cannot yield is an error, not a leak
  r.in_sort = {pcall(table.sort, {3, 1, 2}, function(a, b)
    return coroutine.wrap(function() time.sleep("1ms") return a < b end)()
  end)}
  r.after = "still running"
  return r
end
"""

FORGE = r"""
return {
  main = function() coroutine.yield({}, 42, "recv", function() end) return "continued" end,
  spawned = function()
    local ch = channel.new(1)
    coroutine.spawn(function() coroutine.yield("sleep", 1) ch:send(1) end)
    return ch:receive()
  end,
}
"""

INDEX = """
version: "1.0"
namespace: i
entries:
  - {name: client, kind: temporal.client, address: "127.0.0.1:7233"}
  - {name: worker, kind: temporal.worker, client: client, task_queue: i}
  - {name: echo, kind: function.lua, source: file://echo.lua, method: echo,
     meta: {temporal: {activity: {worker: worker}}}}
  - {name: patcher, kind: workflow.lua, source: file://patcher.lua,
     modules: [time, funcs, payload, json, uuid, crypto, hash, base64, workflow, ctx],
     meta: {temporal: {workflow: {worker: worker}}}}
  - {name: token, kind: workflow.lua, source: file://token.lua, modules: [time],
     meta: {temporal: {workflow: {worker: worker}}}}
  - {name: forge_main, kind: workflow.lua, source: file://forge.lua, method: main,
     meta: {temporal: {workflow: {worker: worker}}}}
  - {name: forge_spawned, kind: workflow.lua, source: file://forge.lua, method: spawned,
     meta: {temporal: {workflow: {worker: worker}}}}
  - {name: healthy, kind: workflow.lua, source: file://echo.lua, method: echo,
     meta: {temporal: {workflow: {worker: worker}}}}
"""


def write_app(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "wippy.lock").write_text("directories:\n  src: ./src\n  modules: .wippy\n")
    (root / "src" / "_index.yaml").write_text(textwrap.dedent(INDEX))
    (root / "src" / "patcher.lua").write_text(PATCHER)
    (root / "src" / "token.lua").write_text(TOKEN)
    (root / "src" / "forge.lua").write_text(FORGE)
    (root / "src" / "echo.lua").write_text("return {echo = function(x) return x end}\n")
    return root


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_a_run_cannot_patch_what_the_next_run_on_the_state_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenants: list[int] = []
    original = lua_process.LuaVM.new_tenant

    def new_tenant(self: lua_process.LuaVM) -> Any:
        tenants.append(id(self))
        return original(self)

    monkeypatch.setattr(lua_process.LuaVM, "new_tenant", new_tenant)
    root = write_app(tmp_path / "app")

    async def body() -> list[Any]:
        async with WorkflowEnvironment(App(root, log=None)) as env:
            out = []
            for mode in ("check", "patch", "check", "patch", "check"):
                pid = await env.start("i:patcher", "i:worker", mode)
                await env.signal(pid, "go", 1)
                out.append(await env.outcome(pid))
            return out

    outcomes = run(body())
    assert len(tenants) >= 5 and len(set(tenants)) < len(tenants), "the runs did not share a Lua state"
    for _, failure in outcomes:
        assert failure is None, failure
    assert outcomes[1][0]["found"] > 0  # the patcher did reach tables (its own objects' fields)
    for value, _ in outcomes[::2]:
        broken = sorted(k for k, good in value.items() if good is not True)
        assert not broken, broken


def test_the_op_token_never_reaches_user_code(tmp_path: Path) -> None:
    async def body() -> tuple[Any, Failure | None]:
        async with WorkflowEnvironment(App(write_app(tmp_path / "app"), log=None)) as env:
            return await env.outcome(await env.start("i:token", "i:worker"))

    r, failure = run(body())
    assert failure is None, failure
    assert r["wrap_sleep"] == [] or all(k != "table" for k in r["wrap_sleep"])
    assert r["resume_receive"] == [True, 7, True]
    assert r["generator"] == [1, 2, 3]
    assert r["nested"] == [0, "deep"]
    assert r["main_yieldable"] is False
    assert r["yield_main"][0] is False and "cannot yield" in r["yield_main"][1]
    assert r["close_main"][0] is False
    a, b, c = r["from_other"]
    assert a[0] is False and "own coroutine" in a[1]
    assert b[0] is False and "waits for a blocking call" in b[1]
    assert c[0] is False
    assert r["parked"] == [True, "real", True]
    assert r["in_sort"][0] is False and "yield" in r["in_sort"][1]
    assert r["after"] == "still running"


@pytest.mark.parametrize("name", ["forge_main", "forge_spawned"])
def test_a_forged_yield_fails_only_its_run(tmp_path: Path, name: str) -> None:
    async def body() -> list[tuple[Any, Failure | None]]:
        async with WorkflowEnvironment(App(write_app(tmp_path / "app"), log=None)) as env:
            before = await env.start("i:healthy", "i:worker", 1)
            forged = await env.start(f"i:{name}", "i:worker")
            after = await env.start("i:healthy", "i:worker", 2)
            return [await env.outcome(pid) for pid in (before, forged, after)]

    (v1, f1), (_, forged), (v2, f2) = run(body())
    assert (v1, f1, v2, f2) == (1, None, 2, None)
    assert forged is not None and "coroutine.yield" in forged.message and "cannot yield" in forged.message
