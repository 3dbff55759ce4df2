-- Lua 5.4's math.random / math.randomseed (lmathlib.c, xoshiro256**) ported to Lua.
--
-- The C generator is one per Lua state; durable workflow runs that share a state (one tenant
-- per run) each need their own. Here a generator state is a plain table { s0, s1, s2, s3 }
-- (the four 64-bit words in the array part) and random/randomseed work on R.current, which
-- the integrator switches with the tenant. Outputs are bit-exact with the C functions of
-- Lua 5.4.8 for the same seeds, errors included; tests/unit/test_rng.py compares the two.
--
-- Run as a chunk with no arguments; returns R:
--   R.new(n1, n2)      a new state, seeded as math.randomseed(n1, n2) would (n2 defaults to 0)
--   R.current          the state random/randomseed use (R.new(0) at load)
--   R.random(...)      math.random on R.current
--   R.randomseed(...)  math.randomseed on R.current (reseeds it in place), returns n1, n2
--
-- Faithful to C, as lmathlib.c does it:
-- * random draws its value before it looks at its arguments, so a call that raises an error
--   still advances the generator; the rejection loop of an integer range draws more values.
-- * random(0) (also 0.0, -0.0) is a full 64-bit integer; arguments go through
--   luaL_checkinteger (3.0 and "3" are 3; 4.5, "4.5" and 2^63 have no integer representation).
-- * randomseed() with no argument: C seeds from time(NULL) and the address of the Lua state.
--   Here the seed is the generator's own next two outputs (n1, n2), so a durable workflow that
--   calls it stays deterministic and replays the same numbers.
-- * Error messages are those of lauxlib, at the caller's position (luaL_where(L, 1) of the C
--   function == error(msg, 2) of this one); the function name comes from debug.getinfo as C
--   takes it from the call site ('random', a local's name, "calling 'random' on bad self" for
--   a method call). Where Lua code sees no name it says 'random' ('randomseed', 'new'): called
--   from C (pcall(R.random, 2, 1): C says 'math.random') or as a tail call (`return r(2, 1)`:
--   C says 'r'); a tail call also loses the position (its caller's frame is gone). A light userdata
--   argument is "got userdata" (C: "got light userdata"; Lua cannot tell the two apart).
--   Without the debug library every message says 'random' / 'randomseed' and __name is read
--   with getmetatable (which a __metatable field hides).
local select, error, type, tonumber, rawget = select, error, type, tonumber, rawget
local format = string.format
local tointeger, MININT = math.tointeger, math.mininteger
local getinfo = debug and debug.getinfo
local getmetatable = debug and debug.getmetatable or getmetatable

local TWO_M53 = 0x1p-53 -- I2d: the top 53 bits of a value, times 2^-53, in [0, 1)

local R = {}

-------------------------------------------------------------------------------------------
-- errors (lauxlib's luaL_argerror, luaL_typeerror, luaL_checkinteger)
-------------------------------------------------------------------------------------------

-- lvl: level of the API function (R.random & co.) as seen from here (1 = argerror itself).
local function argerror(lvl, arg, extramsg, fname)
  local name = fname
  if getinfo then
    local ar = getinfo(lvl, "n")
    if ar then
      if ar.namewhat == "method" then
        arg = arg - 1
        if arg == 0 then error(format("calling '%s' on bad self (%s)", ar.name, extramsg), lvl + 1) end
      end
      if ar.name then name = ar.name end
    end
  end
  error(format("bad argument #%d to '%s' (%s)", arg, name, extramsg), lvl + 1)
end

local function typename(v)
  local mt = getmetatable(v)
  local name = type(mt) == "table" and rawget(mt, "__name")
  if type(name) == "string" then return name end
  return type(v)
end

-- luaL_checkinteger for argument `arg` of the API function that called this one.
local function checkinteger(v, arg, fname)
  local num = v
  if type(v) == "string" then num = tonumber(v) end -- cvt2num
  if type(num) == "number" then
    local i = tointeger(num)
    if i then return i end
    argerror(3, arg, "number has no integer representation", fname)
  end
  argerror(3, arg, "number expected, got " .. typename(v), fname)
end

-------------------------------------------------------------------------------------------
-- xoshiro256**
-------------------------------------------------------------------------------------------

local function nextrand(s)
  local s0, s1, s2, s3 = s[1], s[2], s[3], s[4]
  local x = s1 * 5
  s2 = s2 ~ s0
  s3 = s3 ~ s1
  s[1] = s0 ~ s3
  s[2] = s1 ~ s2
  s[3] = s2 ~ (s1 << 17)
  s[4] = (s3 << 45) | (s3 >> 19)
  x = (x << 7) | (x >> 57)
  return x * 9
end

local function setseed(s, n1, n2)
  s[1], s[2], s[3], s[4] = n1, 0xff, n2, 0 -- 0xff: avoid a zero state
  for _ = 1, 16 do nextrand(s) end -- discard initial values to "spread" the seed
end

-------------------------------------------------------------------------------------------
-- API
-------------------------------------------------------------------------------------------

function R.new(n1, n2)
  n1 = tointeger(n1) or checkinteger(n1, 1, "new")
  if n2 == nil then
    n2 = 0
  else
    n2 = tointeger(n2) or checkinteger(n2, 2, "new")
  end
  local s = { 0, 0, 0, 0 }
  setseed(s, n1, n2)
  return s
end

R.current = R.new(0)

-- A host may leave R.current nil until a tenant first draws: then it gets a fresh generator
-- seeded from the C one (which Lua seeds at random): processes and function calls, which are
-- never seeded, draw different numbers from one another.
local c_random = math.random
function R.fresh() return R.new(c_random(0), c_random(0)) end

local function current()
  local s = R.current
  if s == nil then
    s = R.fresh()
    R.current = s
  end
  return s
end

function R.random(...)
  -- the value is drawn before the arguments are checked, as in C
  local s = R.current or current()
  local rv = nextrand(s)

  -- math.tointeger is lua_tointegerx, the conversion luaL_checkinteger makes (3.0 and "3" are
  -- 3); checkinteger only runs when it fails, to raise the error.
  local nargs = select("#", ...)
  local low, up
  if nargs == 0 then
    return (rv >> 11) * TWO_M53 -- float in [0, 1)
  elseif nargs == 1 then
    low, up = 1, ...
    up = tointeger(up) or checkinteger(up, 1, "random")
    if up == 0 then return rv end -- random(0): a full random integer
  elseif nargs == 2 then
    low, up = ...
    low = tointeger(low) or checkinteger(low, 1, "random")
    up = tointeger(up) or checkinteger(up, 2, "random")
  else
    error("wrong number of arguments", 2)
  end
  if low > up then argerror(2, 1, "interval is empty", "random") end

  -- project rv into [0, n], n = up - low as an unsigned integer
  local n = up - low
  if n & (n + 1) == 0 then return (rv & n) + low end -- n + 1 is a power of 2: no bias
  -- the smallest 2^b - 1 not below n, then draw until a value masked with it is <= n
  local lim = n | (n >> 1)
  lim = lim | (lim >> 2)
  lim = lim | (lim >> 4)
  lim = lim | (lim >> 8)
  lim = lim | (lim >> 16)
  lim = lim | (lim >> 32)
  -- unsigned rv > n as a signed compare with both sign bits flipped (math.ult without a call)
  n = n ~ MININT
  rv = rv & lim
  while (rv ~ MININT) > n do
    rv = nextrand(s) & lim
  end
  return rv + low
end

function R.randomseed(...)
  local s = R.current or current()
  local n1, n2
  if select("#", ...) == 0 then
    -- Not time and address as in C: the next two outputs, so that runs stay deterministic.
    n1 = nextrand(s)
    n2 = nextrand(s)
  else
    n1, n2 = ...
    n1 = tointeger(n1) or checkinteger(n1, 1, "randomseed")
    if n2 == nil then
      n2 = 0 -- luaL_optinteger
    else
      n2 = tointeger(n2) or checkinteger(n2, 2, "randomseed")
    end
  end
  setseed(s, n1, n2)
  return n1, n2
end

return R
