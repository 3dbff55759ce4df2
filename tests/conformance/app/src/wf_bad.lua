local function bad_result()
  return {1, 2, nil, 4, x = "mixed"}
end
local function raiser()
  error("workflow exploded")
end
return {bad_result = bad_result, raiser = raiser}
