-- Runs while the app is served: the counter service is up and registered.
local function main()
  process.send("counter", "add", 2)
  process.send("counter", "get")
  local count = process.inbox():receive():payload():data()
  assert(count == 2, "count should be 2, got " .. tostring(count))
end

return {main = main}
