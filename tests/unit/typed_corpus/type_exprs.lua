-- expect: ["all forms erased", 15]
-- typed-lua.md §4: every form of type expression, in aliases and annotations.
type Names = number | string | integer | boolean | any | unknown | never | nil | table
type Qualified = process.Message
type Gen = Map<string, Array<T>>
type Literals = "active" | 'x' | [[long]] | [==[lo]]ng]==] | 42 | 1.5 | 0x10 | true | false | nil
type Optional = string? | number?          -- `A | B?` is `A | (B?)`
type Mixed = A | B & C | D
type Leading =
    | "a"
    | "b"
type Arrays = {number} | number[] | {[string]: any[]}
type Map = {[string]: {number}}
type Record = {
    name: string,
    age?: number,          -- optional field
    tags: {string},
    type: string,          -- contextual words are field names
    readonly: boolean,
    end: number,           -- even keywords
    timeout ?: number,     -- `?:` after a space
}
type Empty = {}
type RO = readonly {number} | readonly {[string]: number} | readonly {a: string}
type Inline = interface {a: string, b?: number}
type Fns = {
    f1: (A, B) -> R,
    f2: (x: A, y: B?) -> R,
    f3: () -> R,
    f4: (A) -> (R1, R2),
    f5: (A) -> (),
    f6: (string, ...any) -> (),
    f7: fun(a: A): R,
    f8: fun(a: A): (R1, R2),
    f9: fun(),
    f10: ((A) -> R)?,
}
type Others = T[K] | keyof(T) | typeof(x)
type Cond<T> = T extends string ? "s" : "n"
type Annotated = number @min(0) @max(100) | string @min_len(1) @pattern("^[a-z]+$")
type InRecord = {age: number @min(0), list: {number @min(0)} @max_len(3), flag: boolean @deprecated}
type Commented = { --[[ a comment ]] a: string, -- another
    b: number }
local function guard(x: any): asserts x is string end
local function check(x: any): asserts x end
local r: {name: string, age?: number} = {name = "n"}
local fs: {[string]: (number) -> number} = {double = function(n) return n * 2 end}
local arr: number[] = {1, 2, 3}
local ro: readonly {number} = arr
local cond: Cond<string> = "s"
local ann: number @min(0) = 5
return "all forms erased", fs.double(ann) + #ro + #r.name + #cond
