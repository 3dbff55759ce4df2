-- Process driver: Wippy's concurrency modules for one Lua process.
--
-- Runs once per Lua state with privileged arguments from Python (never reachable by user
-- code). Blocking calls yield a request to the Python scheduler (duralua.core.scheduler);
-- values that travel through channels stay here, in `stash`, and only integer handles
-- cross into Python. Host-specific work (activities, timers, spawns) is an "external op"
-- the scheduler hands to the engine or the function runtime.
local H, new_thread = ...

local yield = coroutine.yield
local OP = H.op_token
local pack, unpack = table.pack, table.unpack
local rawnext = next

local stash, nstash = {}, 0
local function put(v)
  nstash = nstash + 1
  stash[nstash] = v
  return nstash
end
local function take(h)
  if h == 0 or h == nil then return nil end
  local v = stash[h]
  stash[h] = nil
  return v
end

local function class(name)
  local mt = { __name = name, __userdata = true, __metatable = false }
  mt.__index = mt
  return mt
end

local D = { stash_put = put, stash_take = take }

-- require() for one entry: `lookup` answers (module) or (nil, message); the error is raised
-- here, at the caller's line, so the message points at the user's require.
function D.make_require(lookup)
  return function(name)
    local v, err = lookup(name)
    if err ~= nil then error(err, 2) end
    return v
  end
end

-- Python callables look like userdata to Lua code; user-visible ones are wrapped in closures.
-- Errors are re-raised at the caller's level so messages point at the user's line.
function D.wrap(fn)
  return function(...)
    local r = pack(pcall(fn, ...))
    if not r[1] then
      local e = r[2]
      if type(e) == "string" then e = e:gsub("^duralua%.driver:%d+: ", "") end
      error(e, 2)
    end
    return unpack(r, 2, r.n)
  end
end

function D.copy(t)
  local c = {}
  for k, v in rawnext, t do c[k] = v end
  return setmetatable(c, getmetatable(t))
end

-- Reads a field for Python (lupa mis-reads tables from callbacks run inside coroutines).
function D.get(t, k) return t[k] end

-------------------------------------------------------------------------------------------
-- coroutines
-------------------------------------------------------------------------------------------
local threads = {}
D.threads = threads

function D.start_main(fn, ...)
  local args = pack(...)
  threads[1] = new_thread(function() return fn(unpack(args, 1, args.n)) end)
end

local spawn_thread = H.spawn_thread
local function co_spawn(fn)
  if type(fn) ~= "function" then error("coroutine.spawn expects a function", 2) end
  local id = spawn_thread()
  local co = new_thread(fn)
  threads[id] = co
  return co
end
D.co_spawn = co_spawn

function D.forget(id) threads[id] = nil end

-- Python's entry point into a coroutine: (0, op, args...) for a yield, (1, n, values...) for
-- a return, (2, err) for a raise. `resume` is the sandbox's budgeted resume.
local OPK = H.op_token
local co_status = coroutine.status
function D.make_resume(resume)
  return function(id, ...)
    local co = threads[id]
    local r = pack(resume(co, ...))
    if not r[1] then threads[id] = nil return 2, r[2] end
    if co_status(co) == "dead" then threads[id] = nil return 1, r.n - 1, unpack(r, 2, r.n) end
    if r[2] ~= OPK then return 0, "yield" end
    return 0, unpack(r, 3, r.n)
  end
end

-- Globals built on first use (errors, payload, os): most entries never touch some of them,
-- and building them is a good part of what a fresh Lua state costs.
function D.lazy_globals(env, names, install)
  setmetatable(env, { __index = function(t, k)
    if names[k] then
      local v = install(k)
      rawset(t, k, v)
      return v
    end
    return nil
  end })
end

-- print(...) as one structured log line, handed to Python.
function D.make_print(emit)
  return function(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    emit(table.concat(parts, "\t"))
  end
end

-------------------------------------------------------------------------------------------
-- channels
-------------------------------------------------------------------------------------------
local Channel = class("channel")
local new_channel, close_channel, channel_len = H.new_channel, H.close_channel, H.channel_len

-- Channels are recognised through this weak set: their metatable is hidden (__metatable).
local is_channel = setmetatable({}, { __mode = "k" })

local function make_channel(size)
  if size ~= nil and (type(size) ~= "number" or size < 0) then
    error("channel.new: size must be a non-negative integer", 3)
  end
  local ch = setmetatable({ id = new_channel(math.tointeger(size or 0) or 0) }, Channel)
  is_channel[ch] = true
  return ch
end

function Channel:send(v)
  local r = yield(OP, "send", self.id, put(v))
  if r == "closed" then error("send on closed channel", 2) end
  return true
end

function Channel:receive()
  local h, ok = yield(OP, "recv", self.id)
  return take(h), ok
end

function Channel:close() close_channel(self.id) end
function Channel:case_receive() return { k = "r", ch = self } end
function Channel:case_send(v) return { k = "s", ch = self, v = v } end
function Channel:len() return channel_len(self.id) end
Channel.__tostring = function(self) return "channel{" .. self.id .. "}" end

local function chan_select(cases)
  if type(cases) ~= "table" then error("channel.select expects a table of cases", 2) end
  local flat, n, sends = {}, 0, {}
  for i = 1, #cases do
    local c = cases[i]
    if type(c) ~= "table" or not is_channel[c.ch] then
      error("channel.select: case " .. i .. " is not a channel case", 2)
    end
    if c.k == "s" then
      local h = put(c.v)
      sends[i] = h
      flat[n + 1], flat[n + 2], flat[n + 3] = "s", c.ch.id, h
      n = n + 3
    else
      flat[n + 1], flat[n + 2] = "r", c.ch.id
      n = n + 2
    end
  end
  local idx, h, ok = yield(OP, "select", cases.default == true, unpack(flat, 1, n))
  for i, sh in rawnext, sends do
    if not (i == idx and ok) then stash[sh] = nil end
  end
  if idx == 0 then return { default = true, ok = true } end
  local c = cases[idx]
  if c.k == "s" then return { channel = c.ch, value = c.v, ok = ok } end
  return { channel = c.ch, value = take(h), ok = ok }
end

D.channel = { new = make_channel, select = chan_select }
D.Channel = Channel

-------------------------------------------------------------------------------------------
-- messages, payloads, mailbox
-------------------------------------------------------------------------------------------
local make_payload = H.make_payload
local Message = class("process.Message")
function Message:topic() return self._topic end
function Message:from() return self._from end
function Message:payload()
  local p = self._payloads
  if p.n == 0 then return nil end
  if p.n == 1 then return p[1] end
  return { unpack(p, 1, p.n) }
end
Message.__tostring = function(self) return "process.Message{topic=" .. self._topic .. "}" end

-- Called from Python (Scheduler.flush -> VM.materialize): build the Lua value of a delivery.
function D.make_message(topic, from, as_message, ...)
  local values = pack(...)
  if as_message then
    local payloads = { n = values.n }
    for i = 1, values.n do payloads[i] = make_payload(values[i]) end
    return put(setmetatable({ _topic = topic, _from = from or "", _payloads = payloads }, Message))
  end
  if values.n == 0 then return put(nil) end
  if values.n == 1 then return put(values[1]) end
  return put({ unpack(values, 1, values.n) })
end

function D.make_value(v) return put(v) end

local subscribe, unsubscribe = H.subscribe, H.unsubscribe
local inbox_ch, events_ch
local listens = {}

local process = {}
process.event = { EXIT = "pid.exit", LINK_DOWN = "pid.link.down", CANCEL = "pid.cancel" }

function process.inbox()
  if not inbox_ch then
    inbox_ch = make_channel(0)
    subscribe("@inbox", inbox_ch.id, true)
  end
  return inbox_ch
end

function process.events()
  if not events_ch then
    events_ch = make_channel(0)
    subscribe("@events", events_ch.id, true)
  end
  return events_ch
end

local function errobj(kind, msg) return H.make_error(kind, msg) end

function process.listen(topic, opts)
  if type(topic) ~= "string" or topic == "" then return nil, errobj("Invalid", "topic required") end
  if topic:sub(1, 1) == "@" then return nil, errobj("Invalid", "cannot listen to @ topics") end
  local as_message = type(opts) == "table" and opts.message == true
  local ch = listens[topic]
  if ch then return ch end
  ch = make_channel(1)
  listens[topic] = ch
  subscribe(topic, ch.id, as_message)
  return ch
end

function process.unlisten(ch)
  for topic, c in rawnext, listens do
    if c == ch then
      listens[topic] = nil
      unsubscribe(topic)
      return true
    end
  end
  return false
end

function process.pid() return H.pid() end
function process.id() return H.entry_id() end

function process.send(dest, topic, ...)
  if dest == nil or topic == nil then return nil, errobj("Invalid", "process.send requires a destination and a topic") end
  local args = pack(...)
  local list = {}
  for i = 1, args.n do list[i] = args[i] end
  return yield(OP, "psend", dest, topic, H.as_array(list, args.n))
end

local function spawn_op(op, flags)
  return function(id, host, ...)
    if id == nil or host == nil then return nil, errobj("Invalid", "process." .. op .. " requires an entry id and a host") end
    local args = pack(...)
    local list = {}
    for i = 1, args.n do list[i] = args[i] end
    return yield(OP, op, id, host, H.as_array(list, args.n), nil, flags, nil, nil, nil)
  end
end

process.spawn = spawn_op("spawn", "")
process.spawn_monitored = spawn_op("spawn", "m")
process.spawn_linked = spawn_op("spawn", "l")
process.spawn_linked_monitored = spawn_op("spawn", "ml")
process.exec = spawn_op("exec", "m")

for _, name in ipairs({ "terminate", "cancel", "monitor", "unmonitor", "link", "unlink" }) do
  process[name] = function(dest, reason)
    if dest == nil then return nil, errobj("Invalid", "process." .. name .. " requires a PID") end
    return yield(OP, name, dest, reason)
  end
end

local trap_links = false
function process.get_options() return { trap_links = trap_links } end
function process.set_options(o)
  if type(o) ~= "table" then return false, errobj("Invalid", "options must be a table") end
  for k, v in rawnext, o do
    if k ~= "trap_links" then return false, errobj("Invalid", "option " .. tostring(k) .. " is not supported") end
    if type(v) ~= "boolean" then return false, errobj("Invalid", "option trap_links must be a boolean") end
  end
  if o.trap_links ~= nil then trap_links = o.trap_links end
  H.set_trap_links(trap_links)
  return true
end

function process.upgrade(id, ...)
  local args = pack(...)
  local list = {}
  for i = 1, args.n do list[i] = args[i] end
  return yield(OP, "upgrade", id, H.as_array(list, args.n))
end

process.registry = {
  register = function(name, pid) return yield(OP, "registry_register", name, pid) end,
  lookup = function(name) return yield(OP, "registry_lookup", name) end,
  unregister = function(name) return yield(OP, "registry_unregister", name) end,
}

-- Spawner: immutable builder (process.with_context / process.with_options)
local Spawner = class("process.Spawner")
local function new_spawner(opts, ctxv, name, msgs)
  return setmetatable({ _opts = opts, _ctx = ctxv, _name = name, _msgs = msgs }, Spawner)
end
local function merged(a, b)
  local t = {}
  if a then for k, v in rawnext, a do t[k] = v end end
  if b then for k, v in rawnext, b do t[k] = v end end
  return t
end
function Spawner:with_context(t)
  if type(t) ~= "table" then error("with_context expects a table", 2) end
  return new_spawner(self._opts, merged(self._ctx, t), self._name, self._msgs)
end
function Spawner:with_options(t)
  if type(t) ~= "table" then error("with_options expects a table", 2) end
  return new_spawner(merged(self._opts, t), self._ctx, self._name, self._msgs)
end
function Spawner:with_name(n)
  if type(n) ~= "string" or n == "" then error("with_name: name must be a non-empty string", 2) end
  return new_spawner(self._opts, self._ctx, n, self._msgs)
end
function Spawner:with_message(topic, ...)
  if type(topic) ~= "string" or topic == "" or topic:sub(1, 1) == "@" then
    error("with_message: topic must be a non-empty string not starting with @", 2)
  end
  local args = pack(...)
  local list = {}
  for i = 1, args.n do list[i] = args[i] end
  return new_spawner(self._opts, self._ctx, self._name, H.add_message(self._msgs, topic, H.as_array(list, args.n)))
end
function Spawner:with_actor() return self end
function Spawner:with_scope() return self end
local function spawner_op(op, flags)
  return function(self, id, host, ...)
    if id == nil or host == nil then error("spawn requires an entry id and a host", 2) end
    local args = pack(...)
    local list = {}
    for i = 1, args.n do list[i] = args[i] end
    return yield(OP, op, id, host, H.as_array(list, args.n), self._opts, flags, self._ctx, self._name, self._msgs)
  end
end
Spawner.spawn = spawner_op("spawn", "")
Spawner.spawn_monitored = spawner_op("spawn", "m")
Spawner.spawn_linked = spawner_op("spawn", "l")
Spawner.spawn_linked_monitored = spawner_op("spawn", "ml")
function process.with_context(t)
  if type(t) ~= "table" then error("with_context expects a table", 2) end
  return new_spawner(nil, merged(nil, t), nil, nil)
end
function process.with_options(t)
  if type(t) ~= "table" then error("with_options expects a table", 2) end
  return new_spawner(merged(nil, t), nil, nil, nil)
end

D.process = process

-------------------------------------------------------------------------------------------
-- funcs
-------------------------------------------------------------------------------------------
local Future = class("funcs.Future")
local futures = {}

function Future:response() return self._ch end
Future.channel = Future.response
function Future:is_complete() return self._done end
function Future:is_canceled() return self._canceled end
function Future:result()
  if self._canceled then return nil, errobj("Canceled", "canceled") end
  if not self._done then return nil, nil end
  if self._err then return nil, self._err end
  return self._value, nil
end
function Future:error()
  if self._err then return self._err, true end
  return nil, false
end
function Future:cancel()
  if self._canceled or self._done then return true end
  self._canceled = true
  futures[self._topic] = nil
  unsubscribe(self._topic)
  close_channel(self._ch.id)
  return yield(OP, "future_cancel", self._seq)
end

-- Called from Python when a future's result is delivered (before it enters the channel).
function D.resolve_future(topic, ok, v)
  local f = futures[topic]
  local value
  if ok then value = make_payload(v) else value = v end
  if f then
    futures[topic] = nil
    f._done = true
    if ok then f._value = value else f._err = value end
  end
  return put(value)
end

local function check_target(id)
  if type(id) ~= "string" or id == "" then return errobj("Invalid", "function ID required") end
  local colon = id:find(":", 1, true)
  if not colon or colon == 1 then return errobj("Invalid", "namespace required in function ID") end
  if colon == #id then return errobj("Invalid", "name required in function ID") end
  return nil
end

local function do_call(opts, ctxv, id, ...)
  local bad = check_target(id)
  if bad then return nil, bad end
  local args = pack(...)
  local list = {}
  for i = 1, args.n do list[i] = args[i] end
  return yield(OP, "call", id, H.as_array(list, args.n), opts, ctxv)
end

local function do_async(opts, ctxv, id, ...)
  local bad = check_target(id)
  if bad then return nil, bad end
  local args = pack(...)
  local list = {}
  for i = 1, args.n do list[i] = args[i] end
  local seq, topic, err = yield(OP, "async", id, H.as_array(list, args.n), opts, ctxv)
  if err then return nil, err end
  local ch = make_channel(1)
  local f = setmetatable({ _seq = seq, _topic = topic, _ch = ch, _done = false, _canceled = false }, Future)
  futures[topic] = f
  subscribe(topic, ch.id, true)
  return f
end

local Executor = class("funcs.Executor")
local function new_executor(opts, ctxv) return setmetatable({ _opts = opts, _ctx = ctxv }, Executor) end
function Executor:with_options(t)
  if type(t) ~= "table" then error("with_options expects a table", 2) end
  return new_executor(merged(nil, t), self._ctx)
end
function Executor:with_context(t)
  if type(t) ~= "table" then error("with_context expects a table", 2) end
  return new_executor(self._opts, merged(self._ctx, t))
end
function Executor:with_actor() return self end
function Executor:with_scope() return self end
function Executor:call(id, ...) return do_call(self._opts, self._ctx, id, ...) end
function Executor:async(id, ...) return do_async(self._opts, self._ctx, id, ...) end

D.funcs = {
  call = function(id, ...) return do_call(nil, nil, id, ...) end,
  async = function(id, ...) return do_async(nil, nil, id, ...) end,
  new = function() return new_executor(nil, nil) end,
}

-------------------------------------------------------------------------------------------
-- time (blocking part; the pure part comes from the time module)
-------------------------------------------------------------------------------------------
local to_ns = H.duration_ns
local timer_seq = 0
local function timer_topic()
  timer_seq = timer_seq + 1
  return "@timer/" .. timer_seq
end

local function sleep(d)
  local ns, err = to_ns(d)
  if err then return nil, err end
  return yield(OP, "sleep", ns)
end

local function after(d)
  local ns, err = to_ns(d)
  if err then return nil, err end
  if ns <= 0 then return nil, errobj("Invalid", "duration must be positive") end
  local ch = make_channel(1)
  local topic = timer_topic()
  subscribe(topic, ch.id, false)
  yield(OP, "timer", ns, "after", topic)
  return ch
end

local Timer = class("time.Timer")
function Timer:response() return self._ch end
Timer.channel = Timer.response
function Timer:stop()
  local ok = yield(OP, "timer_stop", self._topic)
  return ok == true
end
function Timer:reset(d)
  local ns, err = to_ns(d)
  if err then error(tostring(err), 2) end
  local was = yield(OP, "timer_stop", self._topic)
  yield(OP, "timer", ns, self._kind, self._topic)
  return was == true
end

local function timer(d)
  local ns, err = to_ns(d)
  if err then return nil, err end
  local ch = make_channel(1)
  local topic = timer_topic()
  subscribe(topic, ch.id, false)
  yield(OP, "timer", ns, "timer", topic)
  return setmetatable({ _ch = ch, _topic = topic, _kind = "timer" }, Timer)
end

local function ticker(d)
  local ns, err = to_ns(d)
  if err then return nil, err end
  if ns <= 0 then return nil, errobj("Invalid", "duration must be positive") end
  local ch = make_channel(16)
  local topic = timer_topic()
  subscribe(topic, ch.id, false)
  yield(OP, "timer", ns, "ticker", topic)
  return setmetatable({ _ch = ch, _topic = topic, _kind = "ticker" }, Timer)
end

D.time = { sleep = sleep, after = after, timer = timer, ticker = ticker }

-------------------------------------------------------------------------------------------
-- workflow
-------------------------------------------------------------------------------------------
D.workflow = {
  info = function() return yield(OP, "info") end,
  version = function(id, lo, hi) return yield(OP, "version", id, lo, hi) end,
  attrs = function(t)
    if type(t) ~= "table" then return nil, errobj("Invalid", "attrs expects a table {search=..., memo=...}") end
    return yield(OP, "attrs", t.search, t.memo)
  end,
  history_length = function() return yield(OP, "history_length") end,
  history_size = function() return yield(OP, "history_size") end,
  exec = function(id, ...)
    local args = pack(...)
    local list = {}
    for i = 1, args.n do list[i] = args[i] end
    return yield(OP, "wexec", id, H.as_array(list, args.n))
  end,
}
D.workflow.call = D.workflow.exec

-- Pooled states serve one process after another: forget everything of the last one.
function D.reset()
  for k in rawnext, threads do threads[k] = nil end
  for k in rawnext, stash do stash[k] = nil end
  for k in rawnext, listens do listens[k] = nil end
  for k in rawnext, futures do futures[k] = nil end
  nstash, timer_seq = 0, 0
  inbox_ch, events_ch, trap_links = nil, nil, false
end

return D
