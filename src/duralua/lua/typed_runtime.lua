-- Run-time type values of Wippy's typed Lua (typed-lua.md §5): `T(v)`, `T:is(v)`, reflection.
--
-- Executed once per Lua state from typed_runtime.py (privileged; never reachable by user code).
-- Returns `build(spec, env)`: the table a compiled chunk reads as `__duralua_types`, holding the
-- builtin type values and one per top-level `type`/`interface` of the chunk (spec: see
-- typestrip/spec.py). Non-primitive user types are also installed as globals of `env` when unset.
--
-- A type value is an empty userdata-looking table (sandbox `type()` says "userdata") whose data
-- sits in the private weak table DATA: node (a spec node), env (type-parameter bindings),
-- chunk (the chunk's aliases), name, and for generics tparams / base + args.
local error_here, regex_search, sandbox_type = ...

local rawget, rawset, rawequal, setmetatable, select, error, tostring, type, next, pcall =
  rawget, rawset, rawequal, setmetatable, select, error, tostring, type, next, pcall
local mtype, huge = math.type, math.huge
local format, concat = string.format, table.concat

local MAX_DEPTH = 64
local DATA = setmetatable({}, { __mode = "k" })
local TypeMT = { __name = "type", __userdata = true, __metatable = false }
local PRIMITIVE = {
  ["nil"] = true, boolean = true, number = true, integer = true, string = true,
  any = true, unknown = true, never = true,
}

local function new_type(d)
  local tv = setmetatable({}, TypeMT)
  DATA[tv] = d
  return tv
end

local function lua_type(v)
  if DATA[v] then return "type" end
  local t = sandbox_type(v)
  if t == "number" or t == "string" or t == "boolean" or t == "nil" or t == "table"
    or t == "function" then
    return t
  end
  return "userdata"
end

-- text -------------------------------------------------------------------------------------
local text

local function literal_text(v)
  if type(v) == "string" then return format("%q", v) end
  return tostring(v)
end

local function list_text(nodes, sep)
  local out = {}
  for i = 1, #nodes do out[i] = text(nodes[i]) end
  return concat(out, sep)
end

text = function(node)
  local k = node[1]
  if k == "ref" then
    if node[3] then return node[2] .. "<" .. list_text(node[3], ", ") .. ">" end
    return node[2]
  elseif k == "lit" then
    return literal_text(node[2])
  elseif k == "opt" then
    local inner = node[2][1]
    local s = text(node[2])
    if inner == "union" or inner == "inter" or inner == "func" then s = "(" .. s .. ")" end
    return s .. "?"
  elseif k == "union" then
    return list_text(node[2], " | ")
  elseif k == "inter" then
    return list_text(node[2], " & ")
  elseif k == "array" then
    return "{" .. text(node[2]) .. "}"
  elseif k == "map" then
    return "{[" .. text(node[2]) .. "]: " .. text(node[3]) .. "}"
  elseif k == "record" or k == "iface" then
    local out = {}
    for i, f in next, node[2] do
      out[i] = f[1] .. (f[3] and "?: " or ": ") .. text(f[2])
    end
    return (k == "iface" and "interface {" or "{") .. concat(out, ", ") .. "}"
  elseif k == "func" then
    local rets = node[3]
    local r = #rets == 1 and text(rets[1]) or "(" .. list_text(rets, ", ") .. ")"
    return "(" .. list_text(node[2], ", ") .. ") -> " .. r
  elseif k == "tuple" then
    return "(" .. list_text(node[2], ", ") .. ")"
  elseif k == "ann" then
    local out = { text(node[2]) }
    for _, a in next, node[3] do
      local args = {}
      for i = 2, #a do args[#args + 1] = literal_text(a[i]) end
      out[#out + 1] = "@" .. a[1] .. "(" .. concat(args, ", ") .. ")"
    end
    return concat(out, " ")
  end
  return "unknown"
end

local function type_text(d)
  if d.name then return d.name end
  if d.base then
    local args = {}
    for i, a in next, d.args do args[i] = type_text(DATA[a]) end
    return DATA[d.base].name .. "<" .. concat(args, ", ") .. ">"
  end
  return text(d.node)
end

-- resolution -------------------------------------------------------------------------------
local BUILTIN = {}   -- name -> type value (shared by every chunk of this Lua state)
local instantiate, instantiate_node

-- The type value a `ref` node names in (env, chunk), or nil when it names nothing known.
local function resolve(node, env, chunk)
  local name, args = node[2], node[3]
  if not args then
    local bound = env and env[name]
    if bound then return bound end
    return chunk.types[name] or BUILTIN[name]
  end
  local base = chunk.types[name]
  if not base or not DATA[base].tparams then return nil end
  local tvs = {}
  for i, a in next, args do tvs[i] = instantiate_node(a, env, chunk) end
  local ok, tv = pcall(instantiate, base, tvs)
  return ok and tv or nil
end

-- A type value for a node: a named one when the node is a plain reference.
instantiate_node = function(node, env, chunk)
  if node[1] == "ref" then
    local tv = resolve(node, env, chunk)
    if tv then return tv end
  end
  return new_type({ node = node, env = env, chunk = chunk })
end

instantiate = function(base, args)
  local d = DATA[base]
  local label = type_text(d)
  if not d.tparams then error(format("type %s is not generic", label), 3) end
  if #args ~= #d.tparams then
    error(format("generic %s expects %d type arguments, got %d", label, #d.tparams, #args), 3)
  end
  local env = {}
  for k, v in next, d.env or {} do env[k] = v end
  for i, p in next, d.tparams do env[p[1]] = args[i] end
  return new_type({ node = d.node, env = env, chunk = d.chunk, base = base, args = args })
end

-- The structural node behind annotations and alias references: node, env, chunk (or nil).
local function structure(node, env, chunk)
  for _ = 1, MAX_DEPTH do
    local k = node[1]
    if k == "ann" then
      node = node[2]
    elseif k == "ref" then
      local tv = resolve(node, env, chunk)
      if not tv then return nil end
      local d = DATA[tv]
      if d.builtin or (d.tparams and not d.base) then return node, env, chunk, d end
      node, env, chunk = d.node, d.env, d.chunk
    else
      return node, env, chunk
    end
  end
  return nil
end

-- validation -------------------------------------------------------------------------------
local check

local function join(path, name)
  if path == "" then return name end
  return path .. "." .. name
end

local function fail(path, expected, got, message, constraint)
  local prefix = path ~= "" and path .. ": " or ""
  return { field = path ~= "" and path or nil, expected = expected, got = got,
    constraint = constraint, message = prefix .. message }
end

local function mismatch(path, expected, v)
  local got = lua_type(v)
  return fail(path, expected, got, format("expected %s, got %s", expected, got))
end

local function is_table(v)
  return type(v) == "table" and not DATA[v] and sandbox_type(v) == "table"
end

local BUILTIN_CHECK = {
  ["nil"] = function(v) return v == nil end,
  boolean = function(v) return type(v) == "boolean" end,
  string = function(v) return type(v) == "string" end,
  number = function(v) return type(v) == "number" end,
  integer = function(v)
    if mtype(v) == "integer" then return true end
    return mtype(v) == "float" and v == v and v ~= huge and v ~= -huge and v % 1 == 0
  end,
  any = function() return true end,
  unknown = function() return true end,
  never = function() return false end,
  table = is_table,
}

local ANNOTATIONS = {
  min = function(v, n)
    if type(v) == "number" and type(n) == "number" and v < n then return "value below minimum" end
  end,
  max = function(v, n)
    if type(v) == "number" and type(n) == "number" and v > n then return "value above maximum" end
  end,
  min_len = function(v, n)
    if type(n) ~= "number" or n < 0 or (type(v) ~= "string" and not is_table(v)) then return nil end
    if #v < n then return "length below minimum" end
  end,
  max_len = function(v, n)
    if type(n) ~= "number" or n < 0 or (type(v) ~= "string" and not is_table(v)) then return nil end
    if #v > n then return "length above maximum" end
  end,
  pattern = function(v, re)
    if type(v) ~= "string" or type(re) ~= "string" then return nil end
    local found = regex_search(re, v)
    if found == nil then return "invalid regex" end
    if not found then return "pattern mismatch" end
  end,
}

local function check_type(tv, v, path, depth, label)
  local d = DATA[tv]
  if d.builtin then
    if BUILTIN_CHECK[d.name](v) then return nil end
    return mismatch(path, label or d.name, v)
  end
  if d.tparams and not d.base then
    return fail(path, type_text(d), lua_type(v), format("generic type %s is not instantiated", type_text(d)))
  end
  return check(d.node, d.env, d.chunk, v, path, depth + 1, label or type_text(d))
end

local function check_annotations(node, env, chunk, v, path)
  local inner = node[2]
  local k = inner[1]
  -- kept on named types and arrays only; parsed and dropped on records, maps, generics, unions
  if not ((k == "ref" and not inner[3]) or k == "array") then return nil end
  for _, a in next, node[3] do
    local rule = ANNOTATIONS[a[1]]
    local msg = rule and rule(v, a[2])
    if msg then
      return fail(path, text(inner), lua_type(v), msg, a[1])
    end
  end
  return nil
end

-- nil when `v` is a `node`, else a failure {message, field, expected, got, constraint}.
check = function(node, env, chunk, v, path, depth, label)
  if depth > MAX_DEPTH then
    return fail(path, label or text(node), lua_type(v), "maximum validation depth exceeded")
  end
  local k = node[1]
  if k == "ref" then
    local tv = resolve(node, env, chunk)
    if not tv then
      return fail(path, node[2], lua_type(v), "unresolved type " .. node[2])
    end
    return check_type(tv, v, path, depth, label)
  elseif k == "lit" then
    local lv = node[2]
    if type(v) == type(lv) and v == lv then return nil end
    return mismatch(path, label or text(node), v)
  elseif k == "opt" then
    if v == nil then return nil end
    return check(node[2], env, chunk, v, path, depth + 1, nil)
  elseif k == "union" then
    for _, m in next, node[2] do
      if not check(m, env, chunk, v, path, depth + 1, nil) then return nil end
    end
    return mismatch(path, label or text(node), v)
  elseif k == "inter" then
    for _, m in next, node[2] do
      local f = check(m, env, chunk, v, path, depth + 1, nil)
      if f then return f end
    end
    return nil
  elseif k == "array" then
    if not is_table(v) then return mismatch(path, label or text(node), v) end
    local elem = node[2]
    for i = 1, #v do
      local e = v[i]
      if e ~= nil then
        local f = check(elem, env, chunk, e, path .. "[" .. i .. "]", depth + 1, nil)
        if f then return f end
      end
    end
    return nil
  elseif k == "map" then
    if not is_table(v) then return mismatch(path, label or text(node), v) end
    local key, val = node[2], node[3]
    local ks = structure(key, env, chunk)
    local numeric = false
    if ks and ks[1] == "ref" then
      local n = ks[2]
      numeric = n == "number" or n == "integer" or n == "any"
    end
    local n = #v
    for kk, vv in next, v do
      local at = type(kk) == "string" and join(path, kk) or path .. "[" .. tostring(kk) .. "]"
      if mtype(kk) == "integer" and kk >= 1 and kk <= n then
        if numeric then
          local f = check(val, env, chunk, vv, at, depth + 1, nil)
          if f then return f end
        end
      else
        local f = check(key, env, chunk, kk, at, depth + 1, nil)
          or check(val, env, chunk, vv, at, depth + 1, nil)
        if f then return f end
      end
    end
    return nil
  elseif k == "record" then
    if not is_table(v) then return mismatch(path, label or text(node), v) end
    for _, field in next, node[2] do
      local name, ftype = field[1], field[2]
      local fv = v[name]
      local at = join(path, name)
      if fv == nil then
        if not field[3] and check(ftype, env, chunk, nil, at, depth + 1, nil) then
          return fail(at, text(ftype[1] == "ann" and ftype[2] or ftype), "nil", "required field missing")
        end
      else
        local f = check(ftype, env, chunk, fv, at, depth + 1, nil)
        if f then return f end
      end
    end
    return nil
  elseif k == "iface" then
    if is_table(v) then return nil end
    return mismatch(path, label or text(node), v)
  elseif k == "func" then
    local t = type(v)
    if t == "function" or t == "userdata" then return nil end
    return mismatch(path, label or text(node), v)
  elseif k == "tuple" then
    return mismatch(path, label or text(node), v)
  elseif k == "ann" then
    local f = check(node[2], env, chunk, v, path, depth + 1, label)
    if f then return f end
    return check_annotations(node, env, chunk, v, path)
  end
  return nil  -- typeof/keyof/indexed/conditional: not checked
end

-- methods ----------------------------------------------------------------------------------
local function struct_of(tv)
  local d = DATA[tv]
  if d.builtin or (d.tparams and not d.base) then return nil end
  return structure(d.node, d.env, d.chunk)
end

local function node_kind(tv)
  local d = DATA[tv]
  if d.builtin then return PRIMITIVE[d.name] and d.name or "unknown" end
  if d.base then return "instantiated" end
  if d.tparams then return "generic" end
  local node, _, _, target = structure(d.node, d.env, d.chunk)
  if not node then return "unknown" end
  if target then
    if target.builtin then return PRIMITIVE[target.name] and target.name or "unknown" end
    return "generic"
  end
  local k = node[1]
  if k == "opt" then return "optional" end
  if k == "inter" then return "intersection" end
  if k == "func" then return "function" end
  if k == "union" or k == "array" or k == "map" or k == "record" or k == "tuple" then return k end
  return "unknown"
end

local function iterate(list)
  local i = 0
  return function()
    i = i + 1
    local item = list[i]
    if item == nil then return nil end
    return item[1], item[2]
  end
end

local function child(tv, kind, index)
  local node, env, chunk = struct_of(tv)
  if node and node[1] == kind then return instantiate_node(node[index], env, chunk) end
  return nil
end

local METHODS = {}

function METHODS.is(tv, v)
  local f = check_type(tv, v, "", 0, nil)
  if not f then return v, nil end
  local details = {}
  for _, key in next, { "field", "expected", "got", "constraint" } do
    if f[key] ~= nil and f[key] ~= "" then details[key] = f[key] end
  end
  return nil, error_here("Invalid", f.message, nil, details, 1)
end

function METHODS.kind(tv) return node_kind(tv) end
function METHODS.name(tv) return DATA[tv].name end
function METHODS.elem(tv) return child(tv, "array", 2) end
function METHODS.key(tv) return child(tv, "map", 2) end
function METHODS.val(tv) return child(tv, "map", 3) end
function METHODS.inner(tv) return child(tv, "opt", 2) end

function METHODS.ret(tv)
  local node, env, chunk = struct_of(tv)
  if not node or node[1] ~= "func" then return nil end
  local rets = node[3]
  if #rets == 0 then return nil end
  if #rets == 1 then return instantiate_node(rets[1], env, chunk) end
  return new_type({ node = { "tuple", rets }, env = env, chunk = chunk })
end

function METHODS.fields(tv)
  local node, env, chunk = struct_of(tv)
  if not node or (node[1] ~= "record" and node[1] ~= "iface") then return nil end
  local list = {}
  for i, f in next, node[2] do list[i] = { f[1], instantiate_node(f[2], env, chunk) } end
  return iterate(list)
end

local function members(tv, kind, index)
  local node, env, chunk = struct_of(tv)
  if not node or node[1] ~= kind then return nil end
  local list = {}
  for i, m in next, node[index] do list[i] = { instantiate_node(m, env, chunk) } end
  return iterate(list)
end

function METHODS.variants(tv) return members(tv, "union", 2) end
function METHODS.params(tv) return members(tv, "func", 2) end

function METHODS.tparams(tv)
  local d = DATA[tv]
  if not d.tparams then return nil end
  local list = {}
  for i, p in next, d.tparams do
    list[i] = { p[1], p[2] and instantiate_node(p[2], d.env, d.chunk) or nil }
  end
  return iterate(list)
end

-- `T:is(v)` and `T.is(v)` both work: a bound method tells them apart by its first argument.
local BOUND = setmetatable({}, { __mode = "k" })

local function bound(tv, name)
  local cache = BOUND[tv]
  if not cache then
    cache = {}
    BOUND[tv] = cache
  end
  local f = cache[name]
  if not f then
    local m = METHODS[name]
    f = function(...)
      local n = select("#", ...)
      local a, b = ...
      if rawequal(a, tv) and (n >= 2 or name ~= "is") then return m(tv, b) end
      return m(tv, a)
    end
    cache[name] = f
  end
  return f
end

TypeMT.__index = function(tv, key)
  if METHODS[key] then return bound(tv, key) end
  local node, env, chunk = struct_of(tv)
  if node and (node[1] == "record" or node[1] == "iface") then
    for _, f in next, node[2] do
      if f[1] == key then return instantiate_node(f[2], env, chunk) end
    end
  end
  return nil
end

TypeMT.__newindex = function() error("type values are read-only", 2) end
TypeMT.__tostring = function(tv) return type_text(DATA[tv]) end

TypeMT.__call = function(tv, ...)
  local d = DATA[tv]
  local label = type_text(d)
  local n = select("#", ...)
  if n == 0 then error(format("type %s expects at least 1 argument", label), 2) end
  local types, values = 0, 0
  for i = 1, n do
    if DATA[(select(i, ...))] then types = types + 1 else values = values + 1 end
  end
  if types > 0 and values > 0 then
    error(format("type %s does not accept mixed type/value arguments", label), 2)
  end
  if types > 0 then return instantiate(tv, { ... }) end
  if n > 1 then error(format("type %s validation expects 1 value, got %d", label, n), 2) end
  local v = ...
  local f = check_type(tv, v, "", 0, nil)
  if f then error(f.message, 2) end
  return v
end

for name in next, BUILTIN_CHECK do
  BUILTIN[name] = new_type({ builtin = true, name = name })
end

-- build ------------------------------------------------------------------------------------
return function(spec, env)
  local chunk = { types = {} }
  for _, decl in next, spec do
    local name, tparams, body = decl[1], decl[2], decl[3]
    chunk.types[name] = new_type({ node = body, chunk = chunk, name = name, tparams = tparams or nil })
  end
  local out = {}
  for k, v in next, BUILTIN do out[k] = v end
  for name, tv in next, chunk.types do
    out[name] = tv
    local body = DATA[tv].node
    while body[1] == "ann" do body = body[2] end
    local primitive = body[1] == "ref" and not body[3] and PRIMITIVE[body[2]]
    if env and not primitive and rawget(env, name) == nil then rawset(env, name, tv) end
  end
  return out
end
