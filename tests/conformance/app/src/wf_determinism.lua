local funcs = require("funcs")
local uuid = require("uuid")
local time = require("time")
return function()
  local t = {}
  for i = 1, 60 do t["key_" .. i] = i end
  local seen = {}
  for k, v in pairs(t) do
    if v % 20 == 0 then
      local r = funcs.call("conf:echo", k)
      table.insert(seen, r)
    end
  end
  local id = uuid.v4()
  local r1, r2 = math.random(1, 1000000), math.random()
  local now = time.now():unix()
  local os_now = os.time()  -- same step, same workflow clock
  funcs.call("conf:echo", "after")
  return {seen = seen, id = id, r1 = r1, r2 = r2, id_after = uuid.v4(), now_int = math.type(now) == "integer",
          os_time = os_now == now}
end
