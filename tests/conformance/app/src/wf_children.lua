local workflow = require("workflow")
local time = require("time")
return function()
  local a = workflow.exec("conf:child", 1)
  local b, berr = process.exec("conf:child", "conformance", 2)
  local _, ferr = workflow.exec("conf:child", "fail")
  local events = process.events()
  local pid, serr = process.spawn("conf:child", "", 3)
  local ev = events:receive()
  return {a = a, b = b, fail_kind = ferr and ferr:kind(), fail_msg = ferr and ferr:message(),
          spawned = type(pid) == "string", exit_kind = ev.kind, exit_from_matches = ev.from == pid,
          exit_value = ev.result.value}
end
