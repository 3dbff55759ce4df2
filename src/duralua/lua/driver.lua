-- Process driver: Wippy's concurrency modules for one Lua process.
--
-- Runs once per Lua state with privileged arguments from Python (never reachable by user
-- code). Blocking calls yield a request to the Python scheduler (duralua.core.scheduler);
-- values that travel through channels stay here, in `stash`, and only integer handles
-- cross into Python. Host-specific work (activities, timers, spawns) is an "external op"
-- the scheduler hands to the engine or the function runtime.
--
-- What Python receives is made safe here, in Lua: the arguments of an external op are one
-- JSON text (C.export, run inside the caller's coroutine, so under its budget); results and
-- raised errors are converted by make_resume under a budget of their own (a __tostring may
-- loop). Python never holds a Lua value of a run, and never decodes a string it cannot.
--
-- Sealing: every class handed to Lua hides its metatable (__metatable) and keeps its methods
-- in a table no object reaches; the state of driver objects lives in private weak tables, so
-- a run writing into an object changes nothing that Python or the next run sees. The op
-- token is local to this chunk, and user-visible coroutine functions pass ops through to
-- the scheduler without ever returning them to user code.
--
-- The parts that need only the driver's internals (`D.internals`: helpers, never the op token
-- itself) are chunks of their own, run by Python right after this one: process_env.lua
-- (require, globals, print, the processes of a shared state), deliveries.lua (messages,
-- delivered values, mailbox-topic channels) and process_module.lua (the process, security
-- and workflow modules).
local H, new_thread = ...

local C = H.core               -- _core.lua helpers (export, error objects, classes)
local guard = H.guard          -- the sandbox's P.call: (fn, ...) -> code, ... as one budgeted step
local SC = H.coroutine         -- the sandbox's coroutine library (budget-aware)
local RNG = H.rng              -- the sandbox's math.random generators (rng.lua): one per tenant

local yield = coroutine.yield
local co_running = coroutine.running
local OP = {}                  -- first value of every op yield: only this chunk holds it
local pack, unpack, concat = table.pack, table.unpack, table.concat
local rawnext = C.rnext        -- the raw next: the driver's own traversals need no order
local utf8len = utf8.len
local export, export_list, new_error, clean = C.export, C.export_list, C.new_error, C.clean
local cfind, byte, AT = C.cfind, string.byte, 64  -- C's find (the sandbox's charges the budget)

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

-- A sealed class: methods in their own table (obj.__index is nil), metatable hidden.
local function class(name)
  local methods = {}
  local mt = C.class(name, methods)
  return mt, methods
end

local function private() return setmetatable({}, { __mode = "k" }) end

local D = { stash_take = take }

local function errobj(kind, msg) return new_error(kind, msg, false) end

-- A text argument that goes to Python as it is (topics, names): must be valid UTF-8.
local function text_ok(v) return type(v) == "string" and utf8len(v) ~= nil end

-- Reads a field for Python (lupa mis-reads tables from callbacks run inside coroutines).
function D.get(t, k) return t[k] end

-------------------------------------------------------------------------------------------
-- external ops: arguments leave as one JSON array, exported here
-------------------------------------------------------------------------------------------
local Args = {}
Args.__index = Args
local function args() return setmetatable({ n = 0 }, Args) end
function Args:add(v, path)
  if self.err then return self end
  local text, reason, where = export(v, path)
  if text == nil then self.err = where .. ": " .. reason else self.n = self.n + 1 self[self.n] = text end
  return self
end
function Args:list(t, path)
  if self.err then return self end
  local text, reason, where = export_list(t, t.n, path)
  if text == nil then self.err = where .. ": " .. reason else self.n = self.n + 1 self[self.n] = text end
  return self
end
function Args:raw(text)
  if not self.err then self.n = self.n + 1 self[self.n] = text end
  return self
end
-- Yield the op; a value that cannot cross is the caller's `nil, err` (kind Invalid).
function Args:send(name)
  if self.err then return nil, errobj("Invalid", self.err) end
  return yield(OP, name, "[" .. concat(self, ",", 1, self.n) .. "]")
end

-- Values Python reads exactly as it would read their export: nil, booleans, finite numbers and
-- UTF-8 strings (of any length under the export limit: a short bound is enough here). An op
-- whose arguments are all plain crosses as the values themselves (`plain_op`): no JSON is made
-- in Lua nor decoded in Python (LuaVM.resume rebuilds the same arguments).
local huge, PLAIN_TEXT = math.huge, 4096
local function plain(v)
  local tv = type(v)
  if tv == "string" then return #v <= PLAIN_TEXT and utf8len(v) ~= nil end
  if tv == "number" then return v == v and v ~= huge and v ~= -huge end
  return tv == "boolean" or tv == "nil"
end
local function all_plain(n, ...)
  for i = 1, n do if not plain((select(i, ...))) then return false end end
  return true
end
local function plain_op(name, ...) return yield(OP, name, false, ...) end

-------------------------------------------------------------------------------------------
-- coroutines
-------------------------------------------------------------------------------------------
local threads = {}             -- id -> the process's own coroutines (main = 1, spawned)
local own = private()          -- the same coroutines, as a set

-- The main coroutine exports its own result (no user code runs in an export, and it counts
-- against the run's budget); an `err` is converted by make_resume, in a step of its own.
local EXPORTED = {}
local PLAIN = {}  -- ... or returns a plain value as it is
local function main_result(v, err)
  if err ~= nil and err ~= false then return v, err end
  if plain(v) then return PLAIN, v end
  return EXPORTED, export(v, "result")
end
-- Makes `co` the process's main coroutine (also for process_env.lua's start_process).
local function set_main(co)
  threads[1] = co
  own[co] = true
end
function D.start_main(fn, ...)
  local a = pack(...)
  set_main(new_thread(function() return main_result(fn(unpack(a, 1, a.n))) end))
end

local spawn_thread = H.spawn_thread
local function co_spawn(fn)
  if type(fn) ~= "function" then error("coroutine.spawn expects a function", 2) end
  local id = spawn_thread()
  local co = new_thread(fn)
  threads[id] = co
  own[co] = true
  return co
end

-- The coroutine library user code sees. A blocking call made inside a coroutine of its own
-- yields the op token to whoever resumed it: resume/wrap forward such a yield to their own
-- resumer (up to the scheduler) and resume the coroutine with the answer, so the token never
-- reaches user code and blocking calls work inside coroutines. The process's own coroutines
-- and coroutines parked in a forwarded op cannot be resumed, closed or yielded from by user
-- code (answers can only come from the scheduler).
local s_create, s_resume, s_status, s_close, s_running, s_isyieldable = SC.create, SC.resume, SC.status, SC.close,
  SC.running, SC.isyieldable
local parked = private()

local function forward(co, r)
  while r[1] and rawequal(r[2], OP) do
    parked[co] = true
    local answer = pack(yield(unpack(r, 2, r.n)))
    parked[co] = nil
    r = pack(s_resume(co, unpack(answer, 1, answer.n)))
  end
  return r
end

local function refused(co)
  if own[co] then return "cannot resume the process's own coroutine" end
  if parked[co] then return "cannot resume a coroutine that waits for a blocking call" end
  return nil
end

local function user_resume(co, ...)
  local why = refused(co)
  if why then return false, why end
  local r = forward(co, pack(s_resume(co, ...)))
  return unpack(r, 1, r.n)
end

local function user_wrap(fn)
  local co = s_create(fn)
  return function(...)
    local why = refused(co)
    if why then error(why, 2) end
    local r = forward(co, pack(s_resume(co, ...)))
    if r[1] then return unpack(r, 2, r.n) end
    local e = r[2]
    if s_status(co) == "dead" then  -- like coroutine.wrap: close it (a __close error wins)
      local ok, cerr = s_close(co)
      if not ok then e = cerr end
    end
    if type(e) == "string" then error(e, 2) end  -- prefix the caller's position, as wrap does
    error(e, 0)
  end
end

local function user_yield(...)
  if own[co_running()] then
    error("coroutine.yield: the process's own coroutines cannot yield (only coroutines made with "
      .. "coroutine.create or coroutine.wrap can)", 2)
  end
  return yield(...)
end

local function user_close(co)
  local why = refused(co)
  if why then return false, why end
  return s_close(co)
end

D.coroutine = {
  create = s_create, resume = user_resume, wrap = user_wrap, yield = user_yield, status = s_status,
  running = s_running, close = user_close, spawn = co_spawn,
  isyieldable = function() return s_isyieldable() and not own[co_running()] end,
}

-- The conversions below run user code (__tostring) or walk arbitrary data: each is its own
-- budgeted step, and whatever goes wrong becomes a text.
local function guarded(fn, ...)
  local r = pack(guard(fn, ...))
  local code = r[1]
  if code == 0 then return true, unpack(r, 2, r.n) end
  if code == 3 then return false, "instruction budget exceeded" end
  if code == 4 then return false, "memory limit exceeded" end
  if code == 1 then return false, "the conversion tried to yield" end
  return false, clean(tostring(r[2]))
end

local describe, result_of, problem_tag = C.describe, C.result_of, C.problem_tag

-- Python's entry point into a coroutine:
--   0, op, ...                 an op (channel ops: plain integers; others: one JSON text,
--                              or false and the plain values themselves)
--   1, "ok", json              the main coroutine returned (json: its first value)
--   1, "value", v              the same for a plain value
--   1, "error", tag, payload   the main coroutine returned nil, err (or an unconvertible value)
--   1                          another coroutine returned
--   2, tag, payload            the coroutine raised (see C.describe for tags)
-- `resume` is the sandbox's budgeted resume (budget and memory failures raise in Python).
function D.make_resume(resume)
  return function(id, ...)
    local co = threads[id]
    if co == nil then return 2, "text", "internal error: no coroutine " .. tostring(id) end
    local r = pack(resume(co, ...))
    if not r[1] then
      threads[id] = nil
      local e = r[2]
      if type(e) == "string" and utf8len(e) then return 2, "text", e end  -- the usual error("...")
      local ok, tag, payload = guarded(describe, e, "error")
      if not ok then return 2, "text", "(error value could not be converted: " .. tag .. ")" end
      return 2, tag, payload
    end
    if s_status(co) == "dead" then
      threads[id] = nil
      if id ~= 1 then return 1 end
      if rawequal(r[2], PLAIN) then return 1, "value", r[3] end
      if rawequal(r[2], EXPORTED) then
        if r[3] ~= nil then return 1, "ok", r[3] end
        return 1, "error", problem_tag(r[4]), r[5] .. ": " .. r[4]
      end
      local ok, a, b, c = guarded(result_of, r[2], r[3])
      if ok then return 1, a, b, c end
      if r[3] ~= nil and r[3] ~= false then return 1, "error", "text", "(error value could not be converted: " .. a .. ")" end
      return 1, "error", "invalid", "result: could not be converted (" .. a .. ")"
    end
    if not rawequal(r[2], OP) then  -- user code cannot yield here (user_yield): a forged op
      threads[id] = nil
      return 2, "text", "coroutine.yield from the process's own coroutine (not a blocking call)"
    end
    return 0, unpack(r, 3, r.n)
  end
end

-------------------------------------------------------------------------------------------
-- channels
-------------------------------------------------------------------------------------------
local ChannelMT, Channel = class("channel")
local new_channel, close_channel, channel_len = H.new_channel, H.close_channel, H.channel_len
local chan_id = private()      -- channel object -> scheduler channel id

local function channel_of(v, level)
  local id = chan_id[v]
  if id == nil then error("not a channel (use ch:method(), with a channel from channel.new)", level + 1) end
  return id
end

local function make_channel(size)
  if size ~= nil and (type(size) ~= "number" or size < 0) then
    error("channel.new: size must be a non-negative integer", 3)
  end
  local ch = setmetatable({}, ChannelMT)
  chan_id[ch] = new_channel(math.tointeger(size or 0) or 0)
  return ch
end

function Channel:send(v)
  local id = channel_of(self, 2)
  local r = yield(OP, "send", id, put(v))
  if r == "closed" then error("send on closed channel", 2) end
  return true
end

function Channel:receive()
  local h, ok = yield(OP, "recv", channel_of(self, 2))
  return take(h), ok
end

function Channel:close() close_channel(channel_of(self, 2)) end
function Channel:case_receive() channel_of(self, 2) return { k = "r", ch = self } end
function Channel:case_send(v) channel_of(self, 2) return { k = "s", ch = self, v = v } end
function Channel:len() return channel_len(channel_of(self, 2)) end
ChannelMT.__tostring = function(self) return "channel{" .. tostring(chan_id[self]) .. "}" end

local function chan_select(cases)
  if type(cases) ~= "table" then error("channel.select expects a table of cases", 2) end
  local flat, n, sends, picked = {}, 0, {}, {}
  for i = 1, #cases do
    local c = cases[i]
    local id = type(c) == "table" and chan_id[c.ch]
    if not id then error("channel.select: case " .. i .. " is not a channel case", 2) end
    -- read once: what the scheduler was told is what the answer refers to
    local kind, value = c.k, c.v
    picked[i] = { kind = kind, ch = c.ch, v = value }
    if kind == "s" then
      local h = put(value)
      sends[i] = h
      flat[n + 1], flat[n + 2], flat[n + 3] = "s", id, h
      n = n + 3
    else
      flat[n + 1], flat[n + 2] = "r", id
      n = n + 2
    end
  end
  local idx, h, ok = yield(OP, "select", cases.default == true, unpack(flat, 1, n))
  for i, sh in rawnext, sends do
    if not (i == idx and ok) then stash[sh] = nil end
  end
  if idx == 0 then return { default = true, ok = true } end
  local c = picked[idx]
  if c.kind == "s" then return { channel = c.ch, value = c.v, ok = ok } end
  return { channel = c.ch, value = take(h), ok = ok }
end

D.channel = { new = make_channel, select = chan_select }

-------------------------------------------------------------------------------------------
-- payloads, mailbox subscriptions (messages and delivered values: deliveries.lua)
-------------------------------------------------------------------------------------------
local payload_new = H.payload_new
-- The payload of a delivered value (a future's result here, a message's in deliveries.lua).
local function make_payload(v)
  if C.classof(v) == "error" then return payload_new("golang/error", v) end
  return payload_new("json/plain", v)
end

local subscribe, unsubscribe = H.subscribe, H.unsubscribe
local function merged(a, b)
  local t = {}
  if a then for k, v in rawnext, a do t[k] = v end end
  if b then for k, v in rawnext, b do t[k] = v end end
  return t
end

-- What process_env.lua, deliveries.lua and process_module.lua (the `process` and `security`
-- modules) need of the driver; only Python hands it over, user code never sees this table.
D.internals = {
  args = args, errobj = errobj, make_channel = make_channel, chan_id = chan_id, subscribe = subscribe,
  unsubscribe = unsubscribe, merged = merged, class = class, private = private, text_ok = text_ok,
  export = export, export_list = export_list, clean = clean, rawnext = rawnext, classof = C.classof,
  new_error = new_error, plain = plain, all_plain = all_plain, plain_op = plain_op,
  put = put, make_payload = make_payload, new_thread = new_thread, main_result = main_result,
  set_main = set_main,
  -- yield an op whose arguments are already one JSON array text
  op = function(name, text) return yield(OP, name, text) end,
}

-------------------------------------------------------------------------------------------
-- funcs
-------------------------------------------------------------------------------------------
local FutureMT, Future = class("funcs.Future")
local future_of = private()    -- Future object -> its state
local futures = {}             -- topic -> Future object (pending)

local function future(self)
  local f = future_of[self]
  if f == nil then error("not a future (use f:method())", 3) end
  return f
end

function Future:response() return future(self).ch end
Future.channel = Future.response
function Future:is_complete() return future(self).done end
function Future:is_canceled() return future(self).canceled end
function Future:result()
  local f = future(self)
  if f.canceled then return nil, errobj("Canceled", "canceled") end
  if not f.done then return nil, nil end
  if f.err then return nil, f.err end
  return f.value, nil
end
function Future:error()
  local f = future(self)
  if f.err then return f.err, true end
  return nil, false
end
function Future:cancel()
  local f = future(self)
  if f.canceled or f.done then return true end
  f.canceled = true
  futures[f.topic] = nil
  unsubscribe(f.topic)
  close_channel(chan_id[f.ch])
  return yield(OP, "future_cancel", "[" .. export(f.seq) .. "]")
end

-- Called from Python when a future's result is delivered (before it enters the channel).
function D.resolve_future(topic, ok, v)
  local obj = futures[topic]
  local value
  if ok then value = make_payload(v) else value = v end
  if obj then
    futures[topic] = nil
    local f = future_of[obj]
    f.done = true
    if ok then f.value = value else f.err = value end
  end
  return put(value)
end

local function check_target(id)
  if type(id) ~= "string" or id == "" then return errobj("Invalid", "function ID required") end
  if not utf8len(id) then return errobj("Invalid", "function ID: " .. H.binary) end
  local colon = cfind(id, ":", 1, true)
  if not colon or colon == 1 then return errobj("Invalid", "namespace required in function ID") end
  if colon == #id then return errobj("Invalid", "name required in function ID") end
  return nil
end

local function call_args(opts, ctxv, id, ...)
  return args():add(id, "function ID"):list(pack(...), "args"):add(opts, "options"):add(ctxv, "context")
end

local function do_call(opts, ctxv, id, ...)
  local bad = check_target(id)
  if bad then return nil, bad end
  return call_args(opts, ctxv, id, ...):send("call")
end

local function do_async(opts, ctxv, id, ...)
  local bad = check_target(id)
  if bad then return nil, bad end
  local seq, topic, err = call_args(opts, ctxv, id, ...):send("async")
  if err then return nil, err end
  if seq == nil then return nil, topic end  -- the arguments could not be exported
  local ch = make_channel(1)
  local f = setmetatable({}, FutureMT)
  future_of[f] = { seq = seq, topic = topic, ch = ch, done = false, canceled = false }
  futures[topic] = f
  subscribe(topic, chan_id[ch], true)
  return f
end

local ExecutorMT, Executor = class("funcs.Executor")
local executor_of = private()
local function executor(self)
  local e = executor_of[self]
  if e == nil then error("not an executor (use funcs.new():method())", 3) end
  return e
end
local function new_executor(opts, ctxv)
  local e = setmetatable({}, ExecutorMT)
  executor_of[e] = { opts = opts, ctx = ctxv }
  return e
end
function Executor:with_options(t)
  if type(t) ~= "table" then error("with_options expects a table", 2) end
  return new_executor(merged(nil, t), executor(self).ctx)
end
function Executor:with_context(t)
  if type(t) ~= "table" then error("with_context expects a table", 2) end
  local e = executor(self)
  return new_executor(e.opts, merged(e.ctx, t))
end
function Executor:with_actor(a)
  local e = executor(self)
  return new_executor(e.opts, merged(e.ctx, { __actor = D.actor_value(a) }))
end
function Executor:with_scope(s)
  local e = executor(self)
  return new_executor(e.opts, merged(e.ctx, { __scope = D.scope_value(s) }))
end
function Executor:call(id, ...) local e = executor(self) return do_call(e.opts, e.ctx, id, ...) end
function Executor:async(id, ...) local e = executor(self) return do_async(e.opts, e.ctx, id, ...) end

D.funcs = {
  call = function(id, ...) return do_call(nil, nil, id, ...) end,
  async = function(id, ...) return do_async(nil, nil, id, ...) end,
  new = function() return new_executor(nil, nil) end,
}

-------------------------------------------------------------------------------------------
-- time (blocking part; the pure part comes from the time module)
-------------------------------------------------------------------------------------------
local to_ns = H.to_ns  -- (duration) -> integer nanoseconds, or nil, err (time.lua)

local timer_seq = 0
local function timer_topic()
  timer_seq = timer_seq + 1
  return "@timer/" .. timer_seq
end

local function sleep(d)
  local ns, err = to_ns(d)
  if err then return nil, err end
  return yield(OP, "sleep", "[" .. ns .. "]")
end

local function start_timer(ns, kind, topic)
  return yield(OP, "timer", "[" .. ns .. "," .. export(kind) .. "," .. export(topic) .. "]")
end

local function after(d)
  local ns, err = to_ns(d)
  if err then return nil, err end
  if ns <= 0 then return nil, errobj("Invalid", "duration must be positive") end
  local ch = make_channel(1)
  local topic = timer_topic()
  subscribe(topic, chan_id[ch], false)
  start_timer(ns, "after", topic)
  return ch
end

local TimerMT, Timer = class("time.Timer")
local timer_of = private()
local function timer_state(self)
  local t = timer_of[self]
  if t == nil then error("not a timer (use t:method())", 3) end
  return t
end
function Timer:response() return timer_state(self).ch end
Timer.channel = Timer.response
function Timer:stop()
  local ok = yield(OP, "timer_stop", "[" .. export(timer_state(self).topic) .. "]")
  return ok == true
end
function Timer:reset(d)
  local t = timer_state(self)
  local ns, err = to_ns(d)
  if err then error(tostring(err), 2) end
  local was = yield(OP, "timer_stop", "[" .. export(t.topic) .. "]")
  start_timer(ns, t.kind, t.topic)
  return was == true
end

local function new_timer(d, kind, size)
  local ns, err = to_ns(d)
  if err then return nil, err end
  if kind == "ticker" and ns <= 0 then return nil, errobj("Invalid", "duration must be positive") end
  local ch = make_channel(size)
  local topic = timer_topic()
  subscribe(topic, chan_id[ch], false)
  start_timer(ns, kind, topic)
  local t = setmetatable({}, TimerMT)
  timer_of[t] = { ch = ch, topic = topic, kind = kind }
  return t
end

local function timer(d) return new_timer(d, "timer", 1) end
local function ticker(d) return new_timer(d, "ticker", 16) end

D.time = { sleep = sleep, after = after, timer = timer, ticker = ticker }

-------------------------------------------------------------------------------------------
-- tenants: one Lua state may serve several processes in turn (runtime process hosts). What
-- belongs to one process lives in the locals above; switching saves them into the old
-- tenant's table and loads the new one's. Other chunks with per-process state (process_module)
-- register their own save/load and reset functions.
-------------------------------------------------------------------------------------------
local tenant_hooks, reset_hooks = {}, {}
function D.add_tenant_state(switch, reset)
  tenant_hooks[#tenant_hooks + 1] = switch
  reset_hooks[#reset_hooks + 1] = reset
end

local current = {}
function D.new_tenant() return { stash = {}, nstash = 0, threads = {}, futures = {}, timer_seq = 0 } end
function D.switch(t)
  local old = current
  if rawequal(old, t) then return end
  old.stash, old.nstash, old.threads, old.futures, old.timer_seq = stash, nstash, threads, futures, timer_seq
  stash, nstash, threads, futures, timer_seq = t.stash, t.nstash, t.threads, t.futures, t.timer_seq
  old.rng, RNG.current = RNG.current, t.rng  -- nil: made on the tenant's first draw
  for i = 1, #tenant_hooks do tenant_hooks[i](old, t) end
  current = t
  -- What one tenant wrote into the state's shared objects (time.utc...) the next never sees.
  C.restore_shared()
end

-- A new process of this state in one call from Python: its tenant, current from now on, with
-- the main coroutine ready to run the entry chunk.
function D.boot_tenant(spec, ...)
  local t = D.new_tenant()
  D.switch(t)
  D.start_process(spec, ...)
  return t
end

-- The entry points of a state serving several processes: each switches to tenant `t` first,
-- so a step of a process costs one call from Python, not two.
function D.tenant_calls(resume_fn)
  local switch, make_message = D.switch, D.make_message
  local function resume_in(t, id, ...)
    if not rawequal(current, t) then switch(t) end
    return resume_fn(id, ...)
  end
  local function message_in(t, ...)
    if not rawequal(current, t) then switch(t) end
    return make_message(...)
  end
  local function call_in(t, name, ...)
    if not rawequal(current, t) then switch(t) end
    return D[name](...)
  end
  return resume_in, message_in, call_in
end

-- Pooled states serve one process after another: forget everything of the last one.
function D.reset()
  threads, stash, futures = {}, {}, {}
  nstash, timer_seq = 0, 0
  RNG.current = nil
  for i = 1, #reset_hooks do reset_hooks[i]() end
  C.restore_shared()
end

return D
