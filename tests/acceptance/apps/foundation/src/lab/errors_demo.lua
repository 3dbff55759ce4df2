-- errors.new / kinds / is / wrap and the (value, err) convention.
local funcs = require("funcs")

local function describe(err)
  if err == nil then return nil end
  return {kind = err:kind(), message = err:message(), retryable = err:retryable(), text = tostring(err)}
end

local function main()
  local out = {}
  out.kinds = {
    NOT_FOUND = errors.NOT_FOUND, ALREADY_EXISTS = errors.ALREADY_EXISTS, INVALID = errors.INVALID,
    PERMISSION_DENIED = errors.PERMISSION_DENIED, UNAVAILABLE = errors.UNAVAILABLE,
    INTERNAL = errors.INTERNAL, CANCELED = errors.CANCELED, CONFLICT = errors.CONFLICT,
    TIMEOUT = errors.TIMEOUT, RATE_LIMITED = errors.RATE_LIMITED, UNKNOWN = errors.UNKNOWN,
  }
  local plain = errors.new("plain message")
  out.plain = describe(plain)
  out.plain.type = type(plain)
  local full = errors.new{message = "no such order", kind = errors.NOT_FOUND, retryable = false,
                          details = {order_id = 7}}
  out.full = describe(full)
  out.full.details = full:details()
  out.is = {
    same = errors.is(full, errors.NOT_FOUND),
    other = errors.is(full, errors.INVALID),
    not_an_error = errors.is("NotFound", errors.NOT_FOUND),
    nil_value = errors.is(nil, errors.NOT_FOUND),
  }
  local wrapped = errors.wrap(full, "loading order")
  out.wrapped = describe(wrapped)
  out.wrapped.is = errors.is(wrapped, errors.NOT_FOUND)
  out.concat = "failed: " .. full
  -- error(err) raises the object itself; pcall hands it back unchanged.
  local ok, caught = pcall(error, full)
  out.pcall = {ok = ok, same = rawequal(caught, full), kind = caught:kind()}
  -- (value, err) across function calls: the callee's kind/retryable/details survive.
  local v, err = funcs.call("lab:fail_with", errors.CONFLICT)
  out.call = {value = v, err = describe(err), details = err:details()}
  local v2, err2 = funcs.call("lab:fail_with_string")
  out.call_string = {value = v2, err = describe(err2)}
  local v3, err3 = funcs.call("lab:raise_object")
  out.call_raise = {value = v3, err = describe(err3)}
  return out
end

local function fail_with(kind)
  return nil, errors.new{message = "failed with " .. kind, kind = kind, retryable = false, details = {step = 2}}
end

local function fail_with_string()
  return nil, "plain string error"
end

local function raise_object()
  error(errors.new{message = "raised object", kind = errors.PERMISSION_DENIED, retryable = false})
end

return {main = main, fail_with = fail_with, fail_with_string = fail_with_string, raise_object = raise_object}
