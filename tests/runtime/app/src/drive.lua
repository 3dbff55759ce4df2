-- Scenarios of the runtime tests, run as function calls inside the served runtime.
local time = require("time")

local HOST = "rt:procs"

-- The next inbox message (optionally of `topic`), or nil after `timeout`.
local function recv(topic, timeout)
  local inbox = process.inbox()
  local deadline = time.after(timeout or "10s")
  while true do
    local r = channel.select({inbox:case_receive(), deadline:case_receive()})
    if r.channel ~= inbox then return nil end
    if topic == nil or r.value:topic() == topic then return r.value end
  end
end

local function data(msg) local p = msg and msg:payload() return p and p:data() end

-- The next event, or nil after `timeout`.
local function event(timeout)
  local r = channel.select({process.events():case_receive(), time.after(timeout or "10s"):case_receive()})
  if r.channel == process.events() then return r.value end
  return nil
end

local function exit_info(ev)
  if not ev then return "no event" end
  local e = ev.result and ev.result.error
  return {kind = ev.kind, value = ev.result and ev.result.value, error = e and e:message(),
          error_kind = e and e:kind(), retryable = e and e:retryable()}
end

local S = {}

function S.echo()
  local pid, err = process.spawn_monitored("rt:echo", HOST, "hello ")
  if err then return nil, err end
  process.send(pid, "ping", "ada")
  local reply = recv("echo")
  process.send(pid, "stop")
  local ev = event()
  return {reply = data(reply), from_ok = reply:from() == pid, exit = exit_info(ev), pid = pid}
end

function S.background_job(worker)
  local reporter, rerr = process.spawn("rt:reporter", HOST, "reports")
  if rerr then return nil, rerr end
  while not process.registry.lookup("reports") do time.sleep("10ms") end  -- it registers when it starts
  local wf, werr = process.spawn("rt:wf_short", worker, "done")
  if werr then return nil, werr end
  local _, jerr = process.spawn("rt:job", HOST, wf, "reports")
  if jerr then return nil, jerr end
  for _ = 1, 600 do
    local ok, serr = process.send("reports", "get")
    if not ok then return nil, serr end
    local got = data(recv("reports"))
    if got and #got > 0 then return {reports = got, wf = wf, reporter = reporter} end
    time.sleep("100ms")
  end
  return nil, "no report"
end

function S.session(n)
  local pid = process.spawn("rt:session", HOST)
  for i = 1, n do process.send(pid, "add", i) end
  process.send(pid, "get")
  local state = data(recv("state"))
  process.send(pid, "stop")
  return state
end

function S.unmonitor_unlink()
  local a = process.spawn("rt:waiter", HOST)
  local b = process.spawn("rt:waiter", HOST)
  assert(process.monitor(a))
  local again, aerr = process.monitor(a)
  assert(process.unmonitor(a))
  assert(process.link(b))
  assert(process.unlink(b))
  process.terminate(a)
  process.terminate(b)
  local ev = event("500ms")
  return {after = ev and ev.kind or "none", twice = again == nil and aerr:kind() .. ": " .. aerr:message()}
end

function S.link(trap)
  local target = process.spawn("rt:crasher", HOST, "200ms")
  local me = process.pid()
  local linker = process.spawn_monitored("rt:linker", HOST, target, trap, me)
  local linked = recv("linked")
  local seen = trap and data(recv("event")) or nil
  local ev = event()
  return {linked = data(linked), seen = seen, exit = exit_info(ev), target = target, linker = linker}
end

function S.linked_caller()
  -- this call links to a process that fails and does not trap: the call fails with it
  process.spawn_linked("rt:crasher", HOST, "50ms")
  time.sleep("10s")
  return "still here"
end

function S.linked_monitored()
  process.set_options({trap_links = true})
  local pid = process.spawn_linked_monitored("rt:crasher", HOST)
  local first, second = event(), event()
  return {first = first and first.kind, second = second and second.kind, same = first and second
          and first.from == pid and second.from == pid}
end

function S.cancel_terminate()
  local me = process.pid()
  local a = process.spawn_monitored("rt:waiter", HOST, me)
  assert(process.cancel(a, "bye"))
  local reason = data(recv("cancelled"))
  local first = exit_info(event())
  local b = process.spawn_monitored("rt:waiter", HOST)
  assert(process.terminate(b))
  local second = exit_info(event())
  local gone, gerr = process.terminate(b)
  local cgone, cerr = process.cancel(b, "late")
  return {reason = reason, cancelled = first, terminated = second,
          again = gone == nil and gerr:kind() .. ": " .. gerr:message(),
          cancel_gone = cgone == nil and cerr:kind()}
end

function S.with_name()
  local s = process.with_options({}):with_name("sess-1"):with_message("add", 5)
  local p1 = s:spawn("rt:session", HOST)
  local p2 = s:with_message("add", 7):spawn("rt:session", HOST)
  process.send("sess-1", "get")
  local state = data(recv("state"))
  return {same = p1 == p2, state = state, lookup = process.registry.lookup("sess-1") == p1}
end

function S.names()
  local me = process.pid()
  local out = {}
  out.register = process.registry.register("me-name")
  out.again = process.registry.register("me-name")
  local other = process.spawn("rt:waiter", HOST)
  local n, err = process.registry.register("me-name", other)
  out.taken = n == nil and err:kind() .. ": " .. err:message()
  local b, berr = process.registry.register("x", 42)
  out.bad_pid = b == nil and berr:kind() .. ": " .. berr:message()
  local s, serr = process.registry.register("y", me, process.registry.STRONG)
  out.scope = s == nil and serr:kind()
  out.lookup = process.registry.lookup("me-name") == me
  assert(process.registry.register("waiter-name", other))
  assert(process.send("waiter-name", "hello"))
  assert(process.monitor("waiter-name"))
  process.terminate("waiter-name")
  event()
  local l, lerr = process.registry.lookup("waiter-name")
  out.died_with_owner = l == nil and lerr:kind() .. ": " .. lerr:message()
  out.unregister = process.registry.unregister("me-name")
  out.unregister_again = process.registry.unregister("me-name")
  local x, xerr = process.send("nobody-by-this-name", "t")
  out.send_unknown = x == nil and xerr:message()
  return out
end

function S.errors()
  local out = {}
  local function e(pid, err) return pid == nil and err and (err:kind() .. ": " .. err:message()) or "ok" end
  out.unknown_entry = e(process.spawn("rt:nope", HOST))
  out.unknown_host = e(process.spawn("rt:echo", "rt:nohost"))
  out.parked = e(process.spawn("rt:echo", "rt:parked"))
  local a = process.spawn("rt:sleeper", "rt:small")
  local b = process.spawn("rt:sleeper", "rt:small")
  local p3, err3 = process.spawn("rt:sleeper", "rt:small")
  out.limit = e(p3, err3)
  out.limit_retryable = err3 and err3:retryable()
  process.terminate(a)
  process.terminate(b)
  local dead = process.spawn_monitored("rt:returns_err", HOST)
  local ev = event()
  out.returns_err = exit_info(ev)
  local s, serr = process.send(dead, "hello")
  out.send_dead = e(s, serr)
  out.monitor_dead = e(process.monitor(dead))
  out.link_dead = e(process.link(dead))
  out.exec_err = e(process.exec("rt:returns_err", HOST))
  out.exec_ok = process.exec("rt:sleeper", HOST, "10ms")
  out.bad_args = e(process.spawn("rt:echo"))
  return out
end

function S.faults()
  local out = {}
  for _, name in ipairs({"spinner", "hog", "binary", "broken", "crasher", "chatter"}) do
    local pid = process.spawn_monitored("rt:" .. name, HOST)
    if name == "chatter" then
      time.sleep("50ms")
      process.terminate(pid)
    end
    out[name] = exit_info(event("60s"))
  end
  local deaf = process.spawn("rt:sleeper", HOST)
  local spam = process.spawn_monitored("rt:spammer", HOST, deaf, 100000)
  out.spammer = exit_info(event("60s"))
  process.terminate(deaf)
  -- and the runtime still serves
  local echo = process.spawn("rt:echo", HOST, "still ")
  process.send(echo, "x", "alive")
  out.after = data(recv("echo"))
  process.send(echo, "stop")
  return out
end

function S.coro_exit()
  local pid = process.spawn_monitored("rt:coro_exit", HOST)
  return exit_info(event())
end

function S.workflow_roundtrip(worker)
  local wf, err = process.spawn_monitored("rt:wf_ping", worker, process.pid())
  if err then return nil, err end
  local ping = recv("ping", "60s")
  if not ping then return nil, "no ping" end
  local from_ok = ping:from() == wf
  process.send(wf, "pong", {answer = 42})
  local ev = event("60s")
  return {from_ok = from_ok, exit = exit_info(ev)}
end

function S.exec_workflow(worker)
  local v, err = process.exec("rt:wf_short", worker, 5)
  local f, ferr = process.exec("rt:wf_fail", worker, "nope")
  return {value = v, failed = f == nil and ferr and ferr:message()}
end

function S.monitor_workflow_fail(worker)
  local wf = process.spawn_linked_monitored("rt:wf_fail", worker, "boom")
  process.set_options({trap_links = true})
  local a, b = event("60s"), event("60s")
  return {a = a and a.kind, b = b and b.kind}
end

-- Watches a workflow that fails after 1 s (monitor and link), then drops the watches named in
-- `drop` ("monitor", "link" or "both"). A helper process monitoring the same workflow reports its
-- EXIT; after that report, every event this call gets within `window` is collected. `trap` says
-- whether a LINK_DOWN is an event here or fails the call.
function S.unwatch_workflow(worker, drop, trap, window)
  local events = process.events()
  if trap then process.set_options({trap_links = true}) end
  local wf, err = process.spawn_linked_monitored("rt:wf_fail", worker, "boom")
  if err then return nil, err end
  local out = {}
  if drop == "monitor" or drop == "both" then out.unmonitor = process.unmonitor(wf) end
  if drop == "link" or drop == "both" then out.unlink = process.unlink(wf) end
  local _, jerr = process.spawn("rt:job", HOST, wf, process.pid())
  if jerr then return nil, jerr end
  local report = data(recv("report", "60s"))
  out.report = report and report.kind
  out.seen = {}
  local deadline = time.after(window or "2s")
  while true do
    local r = channel.select({events:case_receive(), deadline:case_receive()})
    if r.channel ~= events then break end
    out.seen[#out.seen + 1] = r.value.kind
  end
  return out
end

-- Linked (by process.link after spawn) to a workflow that fails after 1 s.
function S.linked_workflow(worker, trap)
  if trap then process.set_options({trap_links = true}) end
  local wf, err = process.spawn("rt:wf_fail", worker, "boom")
  if err then return nil, err end
  assert(process.link(wf))
  local ev = event("60s")
  return {event = exit_info(ev), from_ok = ev ~= nil and ev.from == wf}
end

-- Calls of this entry served by this Lua state: a pooled state serves one call after another.
local served_calls = 0

-- What a call sees of trap_links when it starts, after it may set it.
function S.trap_options(set)
  served_calls = served_calls + 1
  local before = process.get_options().trap_links
  if set then assert(process.set_options({trap_links = true})) end
  return {before = before, after = process.get_options().trap_links, calls = served_calls}
end

-- Sends and execs whose values cross to Python as they are (plain: nil, booleans, finite
-- numbers, UTF-8 strings) and whose values need JSON: the same values arrive either way.
function S.plain_values()
  local pid = assert(process.spawn("rt:kinds", HOST))
  local out = {}
  local function ask(...)
    local ok, err = process.send(pid, "t", ...)
    if not ok then return tostring(err) end
    return data(recv("kinds"))
  end
  out.plain = ask(1, 2.0, -0.0, 1e300, "é", true)
  out.json = ask({1}, {2.0}, {"é"}, 3.5)
  out.long = #ask(string.rep("x", 5000))[1]
  out.nan = ask(0/0)
  out.inf = ask(math.huge)
  out.binary = ask("\255")
  local ok, err = process.send(pid, "@t", 1)
  out.at_topic = tostring(err)
  ok, err = process.send("nobody", "t", 1)
  out.unknown = tostring(err)
  out.exec = process.exec("rt:kinds_args", HOST, 1, 2.0, "s", true)
  out.exec_json = process.exec("rt:kinds_args", HOST, {1}, 0.5)
  local _, bad = process.exec("rt:kinds_args", HOST, 0/0)
  out.exec_nan = tostring(bad)
  process.send(pid, "stop")
  return out
end

local function run(name, ...)
  local fn = S[name]
  if not fn then return nil, "unknown scenario " .. tostring(name) end
  return fn(...)
end

return {run = run}
