local function main(x: number?): string
  local s: string = "value: " .. tostring(x)
  return s
end

-- an unclosed function
local function helper<T>(v: T): T
  return v

return {main = main}
