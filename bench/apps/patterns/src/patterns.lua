local function healthy(i)
  local line = "order=" .. i .. ", status = paid ,total=" .. (i * 10)
  local fields = {}
  for k, v in line:gmatch("(%w+)%s*=%s*([^,]-)%s*,") do fields[k] = v end
  return fields.order .. "/" .. fields.status
end

-- ran for over 90 s in one C call (800 characters) before string.find was budget-aware
local function backtrack(n)
  return (string.rep("a", n):find(".-.-.-b"))
end

return {healthy = healthy, backtrack = backtrack}
