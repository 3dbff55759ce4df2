local funcs = require("funcs")
local time = require("time")
return function()
  local f1 = funcs.async("conf:add", 1, 2)
  local f2 = funcs.async("conf:echo", "two")
  local v1 = f1:response():receive()
  local v2 = f2:response():receive()
  local _, closed = f1:response():receive()
  local cached = f1:result()
  local slow = funcs.async("conf:slow", "20s")
  local r = channel.select{slow:response():case_receive(), time.after("500ms"):case_receive()}
  local timed_out = r.channel ~= slow:response()
  slow:cancel()
  local _, cerr = slow:result()
  return {v1 = v1:data(), v2 = v2:data(), closed = closed == false, cached = cached:data(),
          timed_out = timed_out, canceled = slow:is_canceled(), cancel_kind = cerr and cerr:kind()}
end
