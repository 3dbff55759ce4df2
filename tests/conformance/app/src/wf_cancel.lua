local time = require("time")
local funcs = require("funcs")
return function()
  local evs = process.events()
  local r = channel.select{evs:case_receive(), time.after("1h"):case_receive()}
  if r.channel == evs and r.value.kind == process.event.CANCEL then
    funcs.call("conf:echo", "cleanup")
    return nil, errors.new{message = "cancelled", kind = errors.CANCELED, retryable = false}
  end
  return "not cancelled"
end
