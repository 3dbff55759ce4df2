local json = require("json")

local function main()
  return json.encode({1, 2})
end

return {main = main}
