local function record(n)
  return {n = n}
end
return {record = record}
