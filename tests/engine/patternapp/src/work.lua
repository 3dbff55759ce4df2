-- A backtracking match that ran for over a minute in C, a gsub whose match backtracks over
-- a long subject, and a healthy workflow that uses patterns the ordinary way.
local function backtrack(n)
  local s = string.rep("a", n or 800)
  local found = s:find(".-.-.-b")
  return found
end

local function huge_gsub(n)
  local s = string.rep("a", n or 20000)
  local out, count = s:gsub("(.-)(.-)(.-)b", "%3%2%1")
  return count
end

local function healthy(i)
  local time = require("time")
  local line = "order=" .. i .. ", status = paid ,total=" .. (i * 10)
  local fields = {}
  for k, v in line:gmatch("(%w+)%s*=%s*([^,]-)%s*,") do fields[k] = v end
  time.sleep("10ms")
  return fields.order .. "/" .. fields.status .. "/" .. #line:gsub("%s+", "")
end

return {backtrack = backtrack, huge_gsub = huge_gsub, healthy = healthy}
