-- The `process`, `security` and `workflow` modules and the module host op of one Lua state
-- (the part of the driver that needs only its internals).
--
-- Run once per Lua state right after driver.lua, with the driver's privileged internals (the
-- op token travels only inside `I`, which Python passes and user code never sees). Blocking
-- calls yield ops to the host that runs the process (runtime/proc.py for functions and
-- processes, core/machine.py for workflows). What belongs to one process (inbox and events
-- channels, listen subscriptions, trap_links) is per tenant: a Lua state that serves several
-- processes switches these with the driver's own (driver.lua `D.switch`).
local D, I, H = ...

local args, errobj, make_channel, chan_id = I.args, I.errobj, I.make_channel, I.chan_id
local subscribe, unsubscribe, merged = I.subscribe, I.unsubscribe, I.merged
local class, private, text_ok, export, export_list, clean = I.class, I.private, I.text_ok, I.export, I.export_list,
  I.clean
local rawnext, utf8len, byte, AT = I.rawnext, utf8.len, string.byte, 64
local pack, unpack, concat = table.pack, table.unpack, table.concat
local classof = I.classof

local inbox_ch, events_ch
local listens = {}
local trap_links = false

-- Per-process state of this chunk, saved into / loaded from a tenant table.
D.add_tenant_state(function(old, new)
  if old then old.inbox, old.events, old.listens, old.trap = inbox_ch, events_ch, listens, trap_links end
  if new.listens == nil then new.listens = {} new.trap = false end
  inbox_ch, events_ch, listens, trap_links = new.inbox, new.events, new.listens, new.trap
end, function()
  inbox_ch, events_ch, listens, trap_links = nil, nil, {}, false
end)

local process = {}
process.event = { EXIT = "pid.exit", LINK_DOWN = "pid.link.down", CANCEL = "pid.cancel" }

function process.inbox()
  if not inbox_ch then
    inbox_ch = make_channel(0)
    subscribe("@inbox", chan_id[inbox_ch], true)
  end
  return inbox_ch
end

function process.events()
  if not events_ch then
    events_ch = make_channel(0)
    subscribe("@events", chan_id[events_ch], true)
  end
  return events_ch
end

function process.listen(topic, opts)
  if type(topic) ~= "string" or topic == "" then return nil, errobj("Invalid", "topic required") end
  if not utf8len(topic) then return nil, errobj("Invalid", "topic: " .. H.binary) end
  if byte(topic, 1) == AT then return nil, errobj("Invalid", "cannot listen to @ topics") end
  local as_message = type(opts) == "table" and rawget(opts, "message") == true
  local ch = listens[topic]
  if ch then return ch end
  ch = make_channel(1)
  listens[topic] = ch
  subscribe(topic, chan_id[ch], as_message)
  return ch
end

function process.unlisten(ch)
  for topic, c in rawnext, listens do
    if rawequal(c, ch) then
      listens[topic] = nil
      unsubscribe(topic)
      return true
    end
  end
  return false
end

function process.pid() return H.pid() end
function process.id() return H.entry_id() end

-- A send to a local process or function is answered by the host at once (H.send: true, or
-- kind, message, retryable; false when it cannot, e.g. a workflow's signal or inside a
-- workflow): no yield for the common case. Otherwise it is the "psend" op.
local send_now, send_plain, op, new_error = H.send, H.send_plain, I.op, I.new_error
local plain, all_plain, plain_op = I.plain, I.all_plain, I.plain_op
function process.send(dest, topic, ...)
  if dest == nil or topic == nil then return nil, errobj("Invalid", "process.send requires a destination and a topic") end
  local n = select("#", ...)
  if plain(dest) and plain(topic) and all_plain(n, ...) then  -- the common case: no JSON either way
    local kind, message, retryable = send_plain(dest, topic, ...)
    if kind == true then return true end
    if kind then return nil, new_error(kind, message, retryable) end
    return plain_op("psend", dest, topic, ...)
  end
  local a = args():add(dest, "destination"):add(topic, "topic"):list(pack(...), "payload")
  if a.err then return nil, errobj("Invalid", a.err) end
  local text = "[" .. concat(a, ",", 1, a.n) .. "]"
  local kind, message, retryable = send_now(text)
  if kind == true then return true end
  if kind then return nil, new_error(kind, message, retryable) end
  return op("psend", text)
end

local function spawn_op(op, flags, label)
  return function(id, host, ...)
    if id == nil or host == nil then return nil, errobj("Invalid", label .. " requires at least id and host arguments") end
    if plain(id) and plain(host) and all_plain(select("#", ...), ...) then return plain_op(op, flags, id, host, ...) end
    return args():add(id, "entry id"):add(host, "host"):list(pack(...), "args")
      :raw("null"):add(flags, "flags"):raw("null"):raw("null"):raw("null"):send(op)
  end
end

process.spawn = spawn_op("spawn", "", "spawn")
process.spawn_monitored = spawn_op("spawn", "m", "spawn_monitored")
process.spawn_linked = spawn_op("spawn", "l", "spawn_linked")
process.spawn_linked_monitored = spawn_op("spawn", "ml", "spawn_linked_monitored")
process.exec = spawn_op("exec", "m", "exec")

for _, name in ipairs({ "terminate", "cancel", "monitor", "unmonitor", "link", "unlink" }) do
  process[name] = function(dest, reason)
    if dest == nil then return nil, errobj("Invalid", "process." .. name .. " requires a PID") end
    return args():add(dest, "PID"):add(reason, "reason"):send(name)
  end
end

local set_trap = H.trap  -- tells the host (a LINK_DOWN kills a process that does not trap)
function process.get_options() return { trap_links = trap_links } end
-- Every string key is looked at; valid ones are applied even when another is rejected, and
-- the first problem found is the answer (spec processes.md §8.3). Sorted keys: the same first
-- problem on every replay.
function process.set_options(o)
  if type(o) ~= "table" then return false, errobj("Invalid", "options parameter must be a table") end
  local problem
  for k, v in next, o do
    if type(k) == "string" then
      if k == "trap_links" then
        if type(v) == "boolean" then
          trap_links = v
          set_trap(v)
        else
          problem = problem or "trap_links must be a boolean"
        end
      else
        problem = problem or ("option " .. clean(k) .. " is not supported")
      end
    end
  end
  if problem then return false, errobj("Invalid", problem) end
  return true
end

function process.upgrade(id, ...)
  return args():add(id, "entry id"):list(pack(...), "args"):send("upgrade")
end

process.registry = {
  LOCAL = 0, EVENTUAL = 1, CONSISTENT = 2, STRONG = 3,
  register = function(name, pid, scope)
    return args():add(name, "name"):add(pid, "PID"):add(scope, "scope"):send("registry_register")
  end,
  lookup = function(name) return args():add(name, "name"):send("registry_lookup") end,
  unregister = function(name) return args():add(name, "name"):send("registry_unregister") end,
}

-------------------------------------------------------------------------------------------
-- security (spec runtime-modules.md §7): actors and scopes travel in the context of what is
-- spawned or called (reserved context keys, hidden from ctx.get/all); policies are out of scope
-------------------------------------------------------------------------------------------
local ActorMT, Actor = class("security.Actor")
local ScopeMT, Scope = class("security.Scope")
local actor_of, scope_of = private(), private()

local function new_actor(id, meta)
  if type(id) ~= "string" then error("security.new_actor: id must be a string", 2) end
  if meta ~= nil and type(meta) ~= "table" then error("security.new_actor: meta must be a table", 2) end
  local a = setmetatable({}, ActorMT)
  actor_of[a] = { id = id, meta = merged(nil, meta) }
  return a
end
function Actor:id() return actor_of[self].id end
function Actor:meta() return merged(nil, actor_of[self].meta) end
ActorMT.__tostring = function(self) return "security.Actor{" .. tostring(actor_of[self].id) .. "}" end

local function new_scope(policies)
  if policies ~= nil and type(policies) ~= "table" then error("security.new_scope: policies must be a table", 2) end
  local s = setmetatable({}, ScopeMT)
  scope_of[s] = {}  -- policies come from security.policy, which finds none here
  return s
end
function Scope:with() return self end
function Scope:without() return self end
function Scope:contains() return false end
function Scope:policies() return {} end
function Scope:evaluate() return "undefined" end
ScopeMT.__tostring = function() return "security.Scope{}" end

local ACTOR_KEY, SCOPE_KEY = "__actor", "__scope"
local security = {}
function security.actor()
  local a = H.context_value(ACTOR_KEY)
  if type(a) ~= "table" or type(a.id) ~= "string" then return nil end
  return new_actor(a.id, a.meta)
end
function security.scope()
  if H.context_value(SCOPE_KEY) == nil then return nil end
  return new_scope()
end
security.new_actor = new_actor
security.new_scope = new_scope
function security.can() return false end  -- (code) false without an actor and a scope that allows
function security.policy(id) return nil, errobj("Internal", "policy not found: " .. clean(tostring(id))) end
function security.named_scope(id) return nil, errobj("Internal", "scope not found: " .. clean(tostring(id))) end

local function actor_value(a)
  if a == nil then error("actor cannot be nil", 3) end
  local st = classof(a) == "security.Actor" and actor_of[a]
  if not st then error("Actor expected", 3) end
  return { id = st.id, meta = st.meta }
end
local function scope_value(s)
  if s == nil then error("scope cannot be nil", 3) end
  if classof(s) ~= "security.Scope" or not scope_of[s] then error("Scope expected", 3) end
  return { policies = {} }
end
D.actor_value, D.scope_value = actor_value, scope_value

-------------------------------------------------------------------------------------------
-- Spawner: immutable builder (process.with_context / process.with_options). Its state is
-- private; options and context are exported when the builder is made, so what is spawned
-- is what was given then.
-------------------------------------------------------------------------------------------
local SpawnerMT, Spawner = class("process.Spawner")
local spawner_of = private()
local function spawner(self)
  local s = spawner_of[self]
  if s == nil then error("not a spawner (use process.with_options(...):method())", 3) end
  return s
end
local function new_spawner(opts, ctxv, name, msgs)
  local s = setmetatable({}, SpawnerMT)
  spawner_of[s] = { opts = opts, ctx = ctxv, name = name, msgs = msgs or {} }
  return s
end
function Spawner:with_context(t)
  if type(t) ~= "table" then error("with_context expects a table", 2) end
  local s = spawner(self)
  return new_spawner(s.opts, merged(s.ctx, t), s.name, s.msgs)
end
function Spawner:with_options(t)
  if type(t) ~= "table" then error("with_options expects a table", 2) end
  local s = spawner(self)
  return new_spawner(merged(s.opts, t), s.ctx, s.name, s.msgs)
end
function Spawner:with_name(n)
  if not text_ok(n) or n == "" then error("with_name: name must be a non-empty string (valid UTF-8)", 2) end
  local s = spawner(self)
  return new_spawner(s.opts, s.ctx, n, s.msgs)
end
function Spawner:with_message(topic, ...)
  if not text_ok(topic) or topic == "" or byte(topic, 1) == AT then
    error("with_message: topic must be a non-empty string not starting with @", 2)
  end
  local s = spawner(self)
  local payload, reason, where = export_list(pack(...), select("#", ...), "payload")
  if payload == nil then error("with_message: " .. where .. ": " .. reason, 2) end
  local msgs = { unpack(s.msgs) }
  msgs[#msgs + 1] = "[" .. export(topic) .. "," .. payload .. "]"
  return new_spawner(s.opts, s.ctx, s.name, msgs)
end
function Spawner:with_actor(a)
  local s = spawner(self)
  return new_spawner(s.opts, merged(s.ctx, { [ACTOR_KEY] = actor_value(a) }), s.name, s.msgs)
end
function Spawner:with_scope(sc)
  local s = spawner(self)
  return new_spawner(s.opts, merged(s.ctx, { [SCOPE_KEY] = scope_value(sc) }), s.name, s.msgs)
end
local function spawner_op(op, flags)
  return function(self, id, host, ...)
    local s = spawner(self)
    if id == nil or host == nil then error("spawn requires an entry id and a host", 2) end
    return args():add(id, "entry id"):add(host, "host"):list(pack(...), "args"):add(s.opts, "options")
      :add(flags, "flags"):add(s.ctx, "context"):add(s.name, "name"):raw("[" .. concat(s.msgs, ",") .. "]"):send(op)
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
D.security = security

-- A host op of a module (lua/modules/_ops.py): `name` is fixed by the module, the arguments
-- are exported like those of the driver's own ops.
function D.host_op(name, ...)
  local a = args()
  for i = 1, select("#", ...) do a:add((select(i, ...)), name .. " argument #" .. i) end
  return a:send(name)
end

-------------------------------------------------------------------------------------------
-- workflow
-------------------------------------------------------------------------------------------
local function no_args(name) return function() return op(name, "[]") end end
D.workflow = {
  info = no_args("info"),
  version = function(id, lo, hi) return args():add(id, "change id"):add(lo, "min"):add(hi, "max"):send("version") end,
  attrs = function(t)
    if type(t) ~= "table" then return nil, errobj("Invalid", "attrs expects a table {search=..., memo=...}") end
    return args():add(rawget(t, "search"), "search"):add(rawget(t, "memo"), "memo"):send("attrs")
  end,
  history_length = no_args("history_length"),
  history_size = no_args("history_size"),
  -- What the named query answers from now on (duralua extension; "state" replaces the default {}).
  set_query = function(name, value) return args():add(name, "query name"):add(value, "query value"):send("set_query") end,
  exec = function(id, ...) return args():add(id, "workflow id"):list(pack(...), "args"):send("wexec") end,
}
D.workflow.call = D.workflow.exec

-- The globals of an entry chunk (LuaVM._load): a fresh sandbox env with the driver's globals and
-- this chunk's require, in one call from Python instead of four.
local new_env, make_require = D.new_env, D.make_require
function D.entry_env(print, lookup, load_import, loaded)
  return new_env(print, make_require(lookup, load_import, loaded or {}))
end

-- require's lookup for one entry: the declared names answered in Lua (`known`: name -> {kind,
-- what}), the rest (an error message) by Python's `fallback`.
function D.known_lookup(known, fallback)
  return function(name)
    local k = known[name]
    if k ~= nil then return k[1], k[2] end
    return fallback(name)
  end
end
