-- expect: ["ok"]
-- typed-lua.md §5.5: what T(v) and T:is(v) accept, and the messages of §5.4.
type Status = "active" | "inactive"
type One = 1
type Opt = string?
type Either = number | string
type Both = {a: number} & {b: string}
type List = {number}
type Arr = string[]
type Dict = {[string]: number}
type NumKeys = {[integer]: string}
type User = {name: string, age?: number, nick: string?, tags: {string}?}
type Team = {lead: User, members: {User}}
type Fn = (number) -> number
type Age = number @min(0) @max(150)
type Name = string @min_len(2) @max_len(5)
type Slug = string @pattern("^[a-z-]+$")
type BadRe = string @pattern("(")
type Tags = {string} @min_len(1)
type Weird = number @whatever(1)
type Ref = Missing
type Remote = process.Message
type Node = {value: number, next: Node?}

local function msg(_, err)
    if err == nil then return "ok" end
    return tostring(err)
end

assert(msg(Status:is("active")) == "ok")
assert(msg(Status:is("other")) == "expected Status, got string")
assert(msg(One:is(1.0)) == "ok" and msg(One:is(2)) == "expected One, got number")   -- 1 matches 1.0
assert(msg(Opt:is(nil)) == "ok" and msg(Opt:is("s")) == "ok" and msg(Opt:is(1)) == "expected string, got number")
assert(msg(Either:is(1)) == "ok" and msg(Either:is(true)) == "expected Either, got boolean")
assert(msg(Both:is({a = 1, b = "x"})) == "ok" and msg(Both:is({a = 1})) == "b: required field missing")
assert(msg(List:is({1, 2, 3})) == "ok" and msg(List:is({1, "x"})) == "[2]: expected number, got string")
assert(msg(List:is({1, 2, k = "hash keys are not checked"})) == "ok")
assert(msg(Arr:is({"a"})) == "ok" and msg(Arr:is("a")) == "expected Arr, got string")
assert(msg(Dict:is({a = 1})) == "ok" and msg(Dict:is({a = "x"})) == "a: expected number, got string")
assert(msg(Dict:is({1, 2})) == "ok")          -- array part: values checked only for numeric keys
assert(msg(NumKeys:is({"a", "b"})) == "ok" and msg(NumKeys:is({1})) == "[1]: expected string, got number")
assert(msg(User:is({name = "n"})) == "ok")
assert(msg(User:is({name = "n", age = "x"})) == "age: expected number, got string")
assert(msg(User:is({})) == "name: required field missing")
assert(msg(User:is({name = "n", extra = true})) == "ok")                   -- extra fields allowed
assert(msg(User:is(5)) == "expected User, got number")
local team = {lead = {name = "l"}, members = {{name = "a"}, {name = 1}}}
assert(msg(Team:is(team)) == "members[2].name: expected string, got number")
assert(msg(Team:is({lead = {}, members = {}})) == "lead.name: required field missing")
assert(msg(Fn:is(function() end)) == "ok" and msg(Fn:is(1)) == "expected Fn, got number")
assert(msg(Age:is(30)) == "ok" and msg(Age:is(-1)) == "value below minimum" and msg(Age:is(151)) == "value above maximum")
assert(msg(Age:is("x")) == "expected Age, got string")
assert(msg(Name:is("ab")) == "ok" and msg(Name:is("a")) == "length below minimum" and msg(Name:is("abcdef")) == "length above maximum")
assert(msg(Slug:is("a-b")) == "ok" and msg(Slug:is("A")) == "pattern mismatch")
assert(msg(BadRe:is("a")) == "invalid regex")
assert(msg(Tags:is({})) == "length below minimum" and msg(Tags:is({"a"})) == "ok")
assert(msg(Weird:is(1)) == "ok")                                        -- unknown annotations ignored
assert(msg(Ref:is(1)) == "unresolved type Missing")
assert(msg(Remote:is({})) == "unresolved type process.Message")
assert(msg(Node:is({value = 1, next = {value = 2}})) == "ok")
assert(msg(Node:is({value = 1, next = {value = "x"}})) == "next.value: expected number, got string")
assert(msg(integer:is(3)) == "ok" and msg(integer:is(3.0)) == "ok" and msg(integer:is(3.5)) == "expected integer, got number")
assert(msg(number:is(1 / 0)) == "ok" and msg(integer:is(1 / 0)) == "expected integer, got number")
assert(msg(any:is(nil)) == "ok" and msg(unknown:is({})) == "ok" and msg(never:is(nil)) == "expected never, got nil")
assert(msg(boolean:is(false)) == "ok" and msg(string:is(Status)) == "expected string, got type")

local _, err = Age:is(-5)
local d = err:details()
assert(d.constraint == "min" and d.field == nil and d.got == "number", tostring(d.constraint))
local deep = {value = 0}
local cur = deep
for i = 1, 70 do cur.next = {value = i} cur = cur.next end
assert(string.find(msg(Node:is(deep)), "depth"), "validation recursion is bounded")
return "ok"
