-- A trivial function.
local function noop(x)
  return x
end

return {noop = noop}
