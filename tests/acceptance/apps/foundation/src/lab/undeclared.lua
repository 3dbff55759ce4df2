local json = require("json")

local function main()
  local http = require("http_client")
  return http ~= nil
end

return {main = main}
