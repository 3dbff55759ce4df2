local function parent()
  local workflow = require("workflow")
  local r, err = workflow.exec("st:sleepy_child")
  if err then return nil, err end
  return {child = r}
end

local function child()
  local time = require("time")
  time.sleep("1s")
  return "slept"
end

return {parent = parent, child = child}
