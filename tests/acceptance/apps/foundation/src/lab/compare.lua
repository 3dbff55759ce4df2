-- Calls a Lua function and a Python callable with the same argument and reports what each
-- looked like from Lua: they must be indistinguishable.
local funcs = require("funcs")

local function seen(value, err)
  local out = {value = value, value_type = type(value)}
  if type(value) == "table" then out.id = value.id end
  if err ~= nil then
    out.err = {kind = err:kind(), message = err:message(), retryable = err:retryable(),
               is_invalid = errors.is(err, errors.INVALID), text = tostring(err), type = type(err)}
  end
  return out
end

local function main(lua_id, py_id, arg)
  return {lua = seen(funcs.call(lua_id, arg)), py = seen(funcs.call(py_id, arg))}
end

-- funcs.call on any target id: what came back.
local function call_any(id, ...)
  local value, err = funcs.call(id, ...)
  return {value = value, kind = err and err:kind(), message = err and err:message()}
end

return {main = main, call_any = call_any}
