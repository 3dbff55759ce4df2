-- Sandbox prelude: runs once per LuaSandbox, in the runtime's real (privileged) globals.
--
-- It receives the sandbox configuration and returns a table of privileged helpers that only
-- Python holds. User code gets environments built by `make_env`, which see nothing of this
-- file but the safe functions it exports. Nothing here is reachable from a user environment:
-- the real `load`, `debug`, `os`, `io`, `package` and lupa's `python` stay in the real globals.
local budget, WINDOW, FIRST, PATTERNS, LMATCH, RNG, PAIRS = ...   -- budget: integer or false (no budget)

local rawget, rawset, rawequal, rnext = rawget, rawset, rawequal, next
local rtype, select, error, tostring = type, select, error, tostring
local rsetmetatable = setmetatable
local dgetmetatable, sethook, getinfo, traceback = debug.getmetatable, debug.sethook, debug.getinfo, debug.traceback
local load, rpcall, rxpcall = load, pcall, xpcall
local co_create, co_resume, co_status, co_close, co_running = coroutine.create, coroutine.resume,
  coroutine.status, coroutine.close, coroutine.running
local sort, concat = table.sort, table.concat
local mtype = math.type
local utf8len, gsub, format, byte = utf8.len, string.gsub, string.format, string.byte
local MAIN = co_running()

-- The C string functions, before the budget-aware wrappers replace them (below), for
-- privileged Lua whose own patterns are linear (lua/modules/_core.lua's JSON export).
debug.getregistry()["duralua.cstring"] = { gsub = gsub, format = format, find = string.find }

-------------------------------------------------------------------------------------------
-- string library: no dump, and the string metatable is neither readable nor writable
-------------------------------------------------------------------------------------------
string.dump = nil
local string_mt = dgetmetatable("")
string_mt.__metatable = false

-------------------------------------------------------------------------------------------
-- instruction budget
--
-- All instructions run during one top-level step (Python's `resume`/`call`, or `lua_resume`)
-- count against one budget, whatever coroutine runs them. Each resumed coroutine gets a
-- count hook; every hook window is charged in advance (a short FIRST window when a
-- coroutine is resumed, WINDOW-sized ones after that), so `used` never under-counts and the
-- failure point is deterministic. Once exceeded, the failure is sticky: the hook fires on
-- every instruction of the offending thread and every protected call re-raises the sentinel.
-------------------------------------------------------------------------------------------
local BUDGET = rsetmetatable({}, {
  __name = "budget", __metatable = false,
  __tostring = function() return "instruction budget exceeded" end,
})
local MEMMSG = "not enough memory"
local used, depth = 0, 0
local fatal = nil            -- nil, BUDGET or MEMMSG while a fatal error unwinds
local where_src, where_line = nil, nil

local PRELUDE = "=prelude"

-- Source and line of the innermost user (non-C, non-prelude) frame from `level` up.
local function user_frame(level)
  local src, line
  while true do
    local info = getinfo(level + 1, "Sl")
    if info == nil then return src, line end
    if info.what ~= "C" then
      if info.source ~= PRELUDE then return info.source, info.currentline end
      if src == nil then src, line = info.source, info.currentline end
    end
    level = level + 1
  end
end

local hook
hook = function()
  if fatal == nil then
    used = used + WINDOW
    if used <= budget then
      sethook(hook, "", WINDOW)
      return
    end
    fatal = BUDGET
    where_src, where_line = user_frame(2)
  end
  sethook(hook, "", 1)
  error(fatal, 0)
end

local function exceeded_at(level)
  fatal = BUDGET
  where_src, where_line = user_frame(level)
end

-- Prepare `co` to run: reset its hook window and charge it. False when over budget.
local function arm(co)
  if not budget or co == MAIN or co_status(co) ~= "suspended" then return true end
  used = used + FIRST
  if used > budget then return false end
  sethook(co, hook, "", FIRST)
  return true
end

local function reraise()
  if fatal == BUDGET then
    local _, ismain = co_running()
    if not ismain then sethook(hook, "", 1) end
  end
  error(fatal, 0)
end

local function is_fatal(e)
  if fatal ~= nil then return true end
  if rawequal(e, BUDGET) then fatal = BUDGET return true end
  if rawequal(e, MEMMSG) then fatal = MEMMSG return true end
  return false
end

-------------------------------------------------------------------------------------------
-- threads resumed through coroutine.wrap
--
-- lupa 2.8 mis-reads Lua tables from Python (t[k] returns (thread, value)) while a coroutine
-- runs under a `coroutine.resume` C frame, because that frame still holds the coroutine.
-- A coroutine.wrap function keeps nothing on its frame during the resume, so every thread
-- created here is driven through one: `co_create` primes a wrap-based thread (its body
-- yields its own coroutine object first) and `co_resume` resumes it through the wrapper.
-- The body runs the function under xpcall so the error's traceback and user frame are
-- captured before the stack unwinds.
-------------------------------------------------------------------------------------------
local raw_resume, raw_wrap, raw_yield, raw_create = co_resume, coroutine.wrap, coroutine.yield, co_create
local tpack, tunpack = table.pack, table.unpack
local DONE = {}
local wrappers = rsetmetatable({}, { __mode = "k" })
local errinfo = rsetmetatable({}, { __mode = "k" })

local function on_error(e)
  if fatal == nil and not rawequal(e, BUDGET) and not rawequal(e, MEMMSG) then
    local src, line
    local level = 2
    while true do
      local info = getinfo(level, "Sl")
      if info == nil then break end
      if info.what ~= "C" and info.source ~= PRELUDE then src, line = info.source, info.currentline break end
      level = level + 1
    end
    errinfo[co_running()] = { traceback(nil, 2), src, line }
  end
  return e
end

co_create = function(fn)
  local w = raw_wrap(function(...)
    local args = tpack(raw_yield(co_running()))
    return DONE, rxpcall(fn, on_error, tunpack(args, 1, args.n))
  end)
  local co = w()
  wrappers[co] = w
  return co
end

local function finish(ok, ...)
  if not ok then return false, (...) end
  if select("#", ...) > 0 and rawequal((...), DONE) then return select(2, ...) end
  return true, ...
end

co_resume = function(co, ...)
  local w = wrappers[co]
  if w == nil or co_status(co) ~= "suspended" then return raw_resume(co, ...) end
  return finish(rpcall(w, ...))
end

local function error_info(co)
  local info = errinfo[co]
  if info then
    errinfo[co] = nil
    return info[1], info[2], info[3]
  end
  return nil
end

-------------------------------------------------------------------------------------------
-- protected calls that cannot swallow the budget/memory sentinels
-------------------------------------------------------------------------------------------
local function checked(ok, ...)
  if ok then
    if fatal ~= nil then return reraise() end
    return true, ...
  end
  if is_fatal((...)) then return reraise() end
  return false, ...
end

local function pcall(f, ...)
  return checked(rpcall(f, ...))
end

local function xpcall(f, msgh, ...)
  return checked(rxpcall(f, function(e)
    if fatal ~= nil or rawequal(e, BUDGET) or rawequal(e, MEMMSG) then return e end
    return msgh(e)
  end, ...))
end

local function resume(co, ...)
  if rtype(co) == "thread" and not arm(co) then
    exceeded_at(3)
    return reraise()
  end
  return checked(co_resume(co, ...))
end

local function close(co)
  return checked(co_close(co))
end

local function wrap_result(co, ok, ...)
  if ok then
    if fatal ~= nil then return reraise() end
    return ...
  end
  local e = ...
  if is_fatal(e) then return reraise() end
  if co_status(co) == "dead" then   -- like coroutine.wrap: close it (a __close error wins)
    local cok, cerr = co_close(co)
    if not cok then
      if is_fatal(cerr) then return reraise() end
      e = cerr
    end
  end
  if rtype(e) == "string" then error(e, 2) end  -- prefix the caller's position, as wrap does
  error(e, 0)
end

local function wrap(f)
  local co = co_create(f)
  return function(...)
    if not arm(co) then
      exceeded_at(2)
      return reraise()
    end
    return wrap_result(co, co_resume(co, ...))
  end
end

-------------------------------------------------------------------------------------------
-- deterministic next/pairs (ordered_pairs.lua: the order is described there)
-------------------------------------------------------------------------------------------
-- Privileged Lua (lua/modules/_core.lua, the driver) finds the raw `next` here: their own
-- traversals need no order, and the sorted one costs a key list per table.
debug.getregistry()["duralua.next"] = rnext

local next, pairs = load(PAIRS, "=prelude", "b")(rawget, rnext, rtype, rsetmetatable, mtype, sort, format, error,
  dgetmetatable)

-------------------------------------------------------------------------------------------
-- other safe globals
-------------------------------------------------------------------------------------------
local function type(...)
  if select("#", ...) == 0 then error("bad argument #1 to 'type' (value expected)", 2) end
  local v = ...
  local tv = rtype(v)
  if tv == "table" then
    local mt = dgetmetatable(v)
    if mt ~= nil and rawget(mt, "__userdata") == true then return "userdata" end
  end
  return tv
end

local function setmetatable(t, mt)
  if rtype(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("sandbox violation: __gc metamethods are not allowed", 2)
  end
  return rsetmetatable(t, mt)
end

-- `string(v)`: Wippy's checked cast to string.
local STRING_MT = {
  __metatable = false,
  __call = function(_, v)
    if rtype(v) == "string" then return v end
    error(format("bad argument #1 to 'string' (string expected, got %s)", type(v)), 2)
  end,
}

local function copy(src)
  local out = {}
  for k, v in rnext, src do out[k] = v end
  return out
end

-------------------------------------------------------------------------------------------
-- bounded C calls: patterns.lua replaces string.find/match/gmatch/gsub/rep/format and
-- table.sort/move in the real libraries (before anything copies them) with versions that
-- charge their C work to the budget, or match in Lua when one C call could run long.
-------------------------------------------------------------------------------------------
local step_serial = { 0 }   -- bumped when a step starts: patterns.lua caches per step

local function charge(n)
  if budget and depth > 0 and fatal == nil then
    used = used + n
    if used > budget then
      exceeded_at(2)
      return reraise()
    end
  end
end

do
  local bounded = load(PATTERNS, "=prelude", "b")(charge, step_serial, LMATCH)
  for k, v in rnext, bounded do
    if k == "sort" or k == "move" then table[k] = v else string[k] = v end
  end
end

local safe_string = copy(string)
local safe_coroutine = {
  create = co_create, resume = resume, status = co_status, wrap = wrap, yield = coroutine.yield,
  isyieldable = coroutine.isyieldable, running = co_running, close = close,
}

local base = {
  type = type, tostring = tostring, tonumber = tonumber, pairs = pairs, ipairs = ipairs,
  next = next, select = select, unpack = table.unpack, pcall = pcall, xpcall = xpcall,
  error = error, assert = assert, setmetatable = setmetatable, getmetatable = getmetatable,
  rawget = rawget, rawset = rawset, rawequal = rawequal, _VERSION = _VERSION,
}
-- math.random: one generator per tenant (rng.lua; the driver switches rng.current with the
-- tenant, nil until the tenant first draws or is seeded), so runs sharing a state draw their own.
local rng = load(RNG, "=prelude", "b")()
rng.current = nil
local safe_math = copy(math)
safe_math.random, safe_math.randomseed = rng.random, rng.randomseed

-- Libraries each environment gets its own shallow copy of (name -> {table, metatable}).
local copied = {
  string = { safe_string, STRING_MT },
  table = { copy(table), nil },
  math = { safe_math, nil },
  coroutine = { safe_coroutine, nil },
}

-- Environments and library copies are made by generated table constructors: a constructor
-- sizes its table once, where filling a table key by key rehashes it several times (that was
-- most of the ~18 us a process spawn spent making its globals). The values are referenced
-- through `V`; a maker is compiled on first use, and again after `register` (`generation`).
local generation = 0

local function constructor(t, deep, V)
  local parts = {}
  for k, v in rnext, t do
    local key
    if rtype(k) == "string" then
      key = "[" .. format("%q", k) .. "]"
    else
      V[#V + 1] = k
      key = "[V[" .. #V .. "]]"
    end
    local val
    if deep and rtype(v) == "table" and dgetmetatable(v) == nil then
      val = constructor(v, true, V)
    else
      V[#V + 1] = v
      val = "V[" .. #V .. "]"
    end
    parts[#parts + 1] = key .. "=" .. val
  end
  return "{" .. concat(parts, ",") .. "}"
end

-- A function that copies `t` like C.copy does (nested tables without a metatable copied too).
-- The keys and values are those `t` has now: only for tables that no longer change.
local function copier(t)
  local V = {}
  local src = "local V = ... return function() return " .. constructor(t, true, V) .. " end"
  return load(src, "=prelude", "t", {})(V)
end

-- The globals of a new environment: the safe base, a copy of each library, then `extra`
-- (name -> template, copied like C.copy; replaces a library of that name) and the maker's
-- arguments under the names in `arg_names`; `_G` is the environment itself.
local function compile_env(extra, arg_names)
  local V, fields, skip = {}, {}, {}
  for _, name in rnext, arg_names do skip[name] = true end
  if extra then for name in rnext, extra do skip[name] = true end end
  local function field(name, src) fields[#fields + 1] = "[" .. format("%q", name) .. "]=" .. src end
  for k, v in rnext, base do
    if not skip[k] then
      V[#V + 1] = v
      field(k, "V[" .. #V .. "]")
    end
  end
  for name, lib in rnext, copied do
    if not skip[name] then
      local c = constructor(lib[1], false, V)
      if lib[2] then
        V[#V + 1] = lib[2]
        c = "setmt(" .. c .. ",V[" .. #V .. "])"
      end
      field(name, c)
    end
  end
  if extra then for name, t in rnext, extra do field(name, constructor(t, true, V)) end end
  local params = {}
  for i, name in rnext, arg_names do
    params[i] = "a" .. i
    field(name, "a" .. i)
  end
  field("_G", "false")  -- the slot exists: setting it below does not grow the table
  local src = "local V, setmt = ... return function(" .. concat(params, ",") .. ") local env = {"
    .. concat(fields, ",") .. "} env._G = env return env end"
  return load(src, "=prelude", "t", {})(V, rsetmetatable)
end

local function env_maker(extra, arg_names)
  local made, gen
  return function(...)
    if gen ~= generation then made, gen = compile_env(extra, arg_names or {}), generation end
    return made(...)
  end
end

local make_env = env_maker(nil, {})

-- Privileged code running in these real globals gets the sentinel-aware protected calls and
-- the deterministic iteration too (`type` and `setmetatable` stay the raw ones).
_G.pcall, _G.xpcall, _G.next, _G.pairs = pcall, xpcall, next, pairs
coroutine.resume, coroutine.wrap, coroutine.close = resume, wrap, close

-------------------------------------------------------------------------------------------
-- privileged entry points
-------------------------------------------------------------------------------------------
local function enter()
  if depth == 0 then
    step_serial[1] = step_serial[1] + 1
    used = 0
    fatal = nil
    where_src, where_line = nil, nil
  end
  depth = depth + 1
end

-- Leave a step and return the fatal condition that ended it, if any. Leaving the outermost
-- step clears it, so later direct calls from Python into Lua are not affected; a nested step
-- keeps it set so that the enclosing step unwinds too.
local function leave()
  depth = depth - 1
  local f = fatal
  if depth == 0 then fatal = nil end
  return f
end

-- A thread killed by a fatal error is NOT closed: Lua leaves hooks disabled in a thread whose
-- hook raised, so its pending __close handlers would run without any budget. It is just
-- dropped (its memory goes when nothing refers to it any more).
local DEAD = co_create(function() end)
co_resume(DEAD)

local function clean(s)
  if utf8len(s) then return s end
  return (gsub(s, "[\128-\255]", function(ch) return format("\\x%02X", byte(ch)) end))
end

local function error_frame(co)
  local level = 0
  while true do
    local info = getinfo(co, level, "Sl")
    if info == nil then return nil, nil end
    if info.what ~= "C" and info.source ~= PRELUDE then return info.source, info.currentline end
    level = level + 1
  end
end

local function run_tostring(v)
  local co = co_create(tostring)
  if not arm(co) then exceeded_at(2) return nil end
  local ok, s = co_resume(co, v)
  if ok and rtype(s) == "string" then return s end
  if not ok then is_fatal(s) end
  return nil
end

local function describe(e)
  local te = rtype(e)
  if te == "string" then return e end
  if te == "number" or te == "boolean" or te == "nil" then return tostring(e) end
  local s = run_tostring(e)
  if s then return s end
  return format("(error object is a %s value)", type(e))
end

-- Outcome of a top-level resume for Python:
--   0, ...                      the thread returned these values
--   1, ...                      the thread yielded these values
--   2, msg, src, line, tb, obj  the thread raised
--   3, src, line                the instruction budget was exceeded (src/line of the hook)
--   4                           the memory limit was exceeded
local function outcome(co, ok, ...)
  if ok and fatal == nil then
    leave()
    if co_status(co) == "dead" then return 0, ... end
    return 1, ...
  end
  if not ok and not is_fatal((...)) then
    local e = ...
    local tb, src, line = error_info(co)
    if tb == nil then
      tb = traceback(co)
      src, line = error_frame(co)
    end
    local cok, cerr = co_close(co)   -- run pending __close handlers (they may replace e)
    if not cok and not rawequal(cerr, e) and not is_fatal(cerr) then e = cerr end
    local msg = describe(e)
    if fatal == nil then
      leave()
      msg = clean(msg)
      if rtype(e) == "string" then e = msg end
      return 2, msg, src and clean(src), line, clean(tb), e
    end
  end
  if leave() == BUDGET then return 3, where_src, where_line end
  return 4
end

local function step(co, ...)
  enter()
  if not arm(co) then
    fatal = BUDGET
    leave()
    return 3, nil, nil
  end
  return outcome(co, co_resume(co, ...))
end

local P = {}

function P.call(fn, ...)
  return step(co_create(fn), ...)
end

function P.box(fn)
  return { co_create(fn) }
end

local function settle_box(box, code, ...)
  if code >= 3 then box[1] = DEAD end  -- let a thread killed by a fatal error be collected
  return code, ...
end

function P.resume_box(box, ...)
  return settle_box(box, step(box[1], ...))
end

function P.status_box(box)
  return co_status(box[1])
end

P.new_thread = co_create

-- For Lua-side drivers: like coroutine.resume (ok, ... / false, err), but as a top-level step;
-- a fatal error calls raise_fatal (a Python function that raises), so pcall cannot see it.
function P.make_resume(raise_fatal)
  local function settle(co, ok, ...)
    if ok and fatal == nil then
      leave()
      return true, ...
    end
    if not ok and not is_fatal((...)) then
      leave()
      return false, ...
    end
    if leave() == BUDGET then return raise_fatal("budget", where_src, where_line) end
    return raise_fatal("memory")
  end
  return function(co, ...)
    enter()
    if rtype(co) == "thread" and not arm(co) then
      fatal = BUDGET
      leave()
      return raise_fatal("budget")
    end
    return settle(co, co_resume(co, ...))
  end
end

function P.unwind(d)
  depth = d
end

function P.depth()
  return depth
end

function P.compile(src, name, env)
  local f, err = load(src, name, "t", env)
  return f, err
end

P.make_env = make_env
P.rng = rng
-- A workflow run's generator, seeded from its recorded seed (what math.randomseed(seed) gives).
function P.seed_rng(seed) rng.current = rng.new(seed) end
P.env_maker = env_maker
P.copier = copier

function P.register(name, value, copy_per_env)
  generation = generation + 1
  if copy_per_env then
    copied[name] = { value, dgetmetatable(value) }
    base[name] = nil
  else
    base[name] = value
    copied[name] = nil
  end
end

-- Metatable of a userdata-looking class. Methods go in `mt.__index` (a separate table, so
-- `obj.__index` cannot hand the metatable itself to user code).
function P.make_class(name)
  return { __name = name, __userdata = true, __metatable = false, __index = { __name = name } }
end

P.base = base
P.type = type
return P
