local workflow = require("workflow")
local funcs = require("funcs")
return function()
  local ok, err = workflow.attrs({search = {DuraluaNotRegistered = "x"}})
  local ok2, err2 = workflow.attrs({search = {CustomKeywordField = 42}})
  local ok3, err3 = workflow.attrs({search = {DuraluaTestTag = "tagged", CustomIntField = 7}, memo = {note = "m"}})
  local after = funcs.call("t:step", "after")
  return {ok = ok, kind = err and err:kind(), message = err and err:message(),
          wrong_type_kind = err2 and err2:kind(), ok3 = ok3, err3 = err3 and err3:message(), after = after}
end
