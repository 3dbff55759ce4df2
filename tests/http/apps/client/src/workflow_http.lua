local calls = require("calls")

local function main(url)
  local resp, err = calls.client.get(url)
  return {got_response = resp ~= nil, error = err and err:message()}
end

return {main = main}
