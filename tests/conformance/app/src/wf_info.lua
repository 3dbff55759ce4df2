local workflow = require("workflow")
local ctx = require("ctx")
local time = require("time")
return function(input)
  local info = workflow.info()
  local v1 = workflow.version("change-a", 1, 3)
  local v1again = workflow.version("change-a", 1, 3)
  local ok, err = workflow.attrs({search = {CustomKeywordField = "gold", CustomIntField = 42}, memo = {note = "hi"}})
  local bad_attrs_ok, bad_attrs_err = workflow.attrs("nope")
  local vbad, vbad_err = workflow.version("x", 3, 1)
  time.sleep("100ms")
  local len = workflow.history_length()
  local size = workflow.history_size()
  return {
    workflow_id = info.workflow_id, type = info.workflow_type, task_queue = info.task_queue,
    namespace = info.namespace, attempt = info.attempt, run_id_set = type(info.run_id) == "string" and #info.run_id > 0,
    history_grows = len > info.history_length, size_positive = size > 0,
    version = v1, version_again = v1again, attrs_ok = ok, attrs_err_kind = bad_attrs_err and bad_attrs_err:kind(),
    version_err_kind = vbad_err and vbad_err:kind(), pid = process.pid(),
    input = input,
  }
end
