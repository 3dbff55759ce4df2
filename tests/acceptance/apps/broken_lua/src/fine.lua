type Pair<K, V> = {key: K, value: V}

local function main(p: Pair<string, number>): string
  return p.key .. "=" .. tostring(p.value as number)
end

return {main = main}
