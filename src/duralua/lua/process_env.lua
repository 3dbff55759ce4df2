-- The environment of a process: require(), the globals every environment gets, print, and the
-- environment and main coroutine of a process of a shared state (the part of the driver that
-- builds environments).
--
-- Run once per Lua state right after driver.lua and before process_module.lua (which builds
-- entry environments from what this chunk adds to D), with the driver's privileged internals
-- (`I`, which Python passes and user code never sees). Nothing here is per tenant: the module
-- templates are the state's, and require's caches live in each environment's own closure.
local D, I, H = ...

local text_ok, clean, new_thread, main_result, set_main = I.text_ok, I.clean, I.new_thread, I.main_result,
  I.set_main
local copy_module = H.core.copy
local pack, unpack, concat = table.pack, table.unpack, table.concat

-------------------------------------------------------------------------------------------
-- require and globals
-------------------------------------------------------------------------------------------
local templates = {}           -- module name -> template table (built once per Lua state)
function D.set_template(name, t) templates[name] = t end

local NIL = {}                 -- a module whose chunk returned nil
local LOADING = {}             -- an import being loaded (a cycle)

-- require() for one entry. `lookup(name)` answers "module", name | "import", entry id |
-- "error", message; imports are loaded by `load_import(entry_id, loaded)` (their chunk runs
-- once per run, `loaded` is shared by the entry and its imports). Caches live here, in Lua.
local function make_require(lookup, load_import, loaded)
  local cache = {}
  return function(name)
    if not text_ok(name) then error("require expects a module name", 2) end
    local v = cache[name]
    if v ~= nil then
      if v == NIL then return nil end
      return v
    end
    local kind, what = lookup(name)
    if kind == "error" then error(what, 2) end
    if kind == "module" then
      local t = templates[what]
      if t == nil then error('module "' .. name .. '" is not available in duralua', 2) end
      -- a function template makes the module value itself (logger: an object, not a table)
      if type(t) == "function" then v = t() else v = copy_module(t) end
    else
      v = loaded[what]
      if v == LOADING then error('import cycle: "' .. name .. '" is required while it is being loaded', 2) end
      if v == nil then
        loaded[what] = LOADING
        local value, err = load_import(what, loaded)
        if err ~= nil then
          loaded[what] = nil
          error(err, 2)
        end
        v = value == nil and NIL or value
        loaded[what] = v
      end
    end
    cache[name] = v
    if v == NIL then return nil end
    return v
  end
end
D.make_require = make_require


-- Globals of an environment: copies of the driver modules, and the globals built on first
-- use (errors, payload, os: most entries never touch some of them).
local LAZY = { errors = true, payload = true, os = true }
-- Copied on first use as well: a process that never touches it costs nothing for it.
local LAZY_DRIVER = { channel = true }
local function lazy_global(t, k)
  local v
  if LAZY[k] then
    v = copy_module(templates[k])
  elseif LAZY_DRIVER[k] then
    v = copy_module(D[k])
  else
    return nil
  end
  rawset(t, k, v)
  return v
end
-- The globals of every process environment (entry chunks, imports, processes of shared
-- states): the sandbox's, copies of the driver's process and coroutine modules (the latter
-- replaces the sandbox's: no spawn there), print and require, made by one generated constructor
-- (compiled on first use, when the driver's modules are complete: it snapshots them), and a
-- metatable of its own (user code may change _G's) for the globals copied on first use.
local make_process_env
function D.new_env(print, require)
  if not make_process_env then
    make_process_env = H.env_maker({ process = D.process, coroutine = D.coroutine }, { "print", "require" })
  end
  return setmetatable(make_process_env(print, require), { __index = lazy_global })
end

-- print(...) as one structured log line, handed to Python.
function D.make_print(emit)
  return function(...)
    local n = select("#", ...)
    local parts = {}
    for i = 1, n do parts[i] = tostring((select(i, ...))) end
    emit(clean(concat(parts, "\t")))
  end
end

-------------------------------------------------------------------------------------------
-- processes of a shared state
-------------------------------------------------------------------------------------------
-- A process of a shared state (runtime hosts): its globals, require and entry chunk are made
-- here, in one call, and the chunk runs in the main coroutine's first step (compiled once per
-- state: `factory(env)` runs it with these globals). Errors read as LuaVM._entry_point's.
local function entry_of(v, method, entry_id)
  local kind = type(v)
  if kind == "function" then return v end
  if kind == "table" then
    local fn = v[method]
    if type(fn) == "function" then return fn end
    error('method "' .. method .. '" not found: the module of ' .. entry_id .. " returns a table without a "
      .. "function named " .. method, 0)
  end
  error(entry_id .. ": the chunk must return a function or a table of functions (got " .. kind .. ")", 0)
end
-- What every process of one entry shares in this state (made once per entry; Python keeps it).
function D.entry_spec(factory, print, lookup, load_import, method, entry_id)
  return { factory = factory, print = print, lookup = lookup, load_import = load_import, method = method,
    entry_id = entry_id }
end

function D.start_process(spec, ...)
  local env = D.new_env(spec.print, make_require(spec.lookup, spec.load_import, {}))
  local factory, method, entry_id = spec.factory, spec.method, spec.entry_id
  local a = pack(...)
  -- the main coroutine (driver.lua: set_main) runs the entry chunk, then its function
  set_main(new_thread(function()
    return main_result(entry_of(factory(env), method, entry_id)(unpack(a, 1, a.n)))
  end))
end
