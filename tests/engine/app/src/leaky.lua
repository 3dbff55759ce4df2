-- Tries to leak state into the next run that reuses this Lua state.
local funcs = require("funcs")
local calls = 0
return function()
  calls = calls + 1
  counter = (counter or 0) + 1
  local seen = {calls = calls, counter = counter, funcs_patched = funcs.patched == true,
                process_patched = process.patched == true, string_patched = string.patched == true}
  funcs.patched, process.patched, string.patched = true, true, true
  funcs.call = nil
  return seen
end
