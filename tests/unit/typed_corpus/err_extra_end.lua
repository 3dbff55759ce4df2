-- error: 6: <eof> expected near 'end'
type Point = {x: number}
local ok = integer:is(3)
do
end
end
return ok
