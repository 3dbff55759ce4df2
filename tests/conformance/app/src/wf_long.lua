-- Calls an activity until the engine suggests continuing as new, then continues as new once;
-- the new run starts with a short history, so it is not suggested at first.
local funcs = require("funcs")
local workflow = require("workflow")
return function(max_calls, previous)
  local first = workflow.info().continue_as_new_suggested
  for i = 1, max_calls do
    if workflow.info().continue_as_new_suggested then
      local this = {calls = i - 1, first = first}
      if previous == nil then return process.upgrade(nil, max_calls, this) end
      return {previous = previous, last = this}
    end
    funcs.call("conf:echo", i)
  end
  return {previous = previous, never = true, first = first}
end
