-- Time, Duration and Location classes and the pure part of the `time` module
-- (spec lua-modules.md §7). Executed once per Lua state (and Local flavour) from Python.
--
-- Time     = { _s = unix seconds (integer), _n = nanoseconds 0..999999999, _loc = Location }
-- Duration = { _ns = integer nanoseconds }
-- Location = { _kind = "utc"|"fixed"|"zone"|"local", _name = string, _off = seconds east }
-- Civil fields are computed here; zone offsets of IANA/system zones, formatting and parsing
-- are Python callbacks (`py`).
local C, py, local_kind, local_name = ...

local type, setmetatable, error, tostring, select = type, setmetatable, error, tostring, select
local tointeger, mtype, floor, ceil, huge = math.tointeger, math.type, math.floor, math.ceil, math.huge
local classof = C.classof

local NS = 1000000000
local DAY = 86400
local ZERO_UNIX = -62135596800 -- Go's zero Time (January 1, year 1, 00:00:00 UTC)

local T, D, L = {}, {}, {}
local TimeMT = C.class("time.Time", T)
local DurationMT = C.class("time.Duration", D)
local LocationMT = C.class("time.Location", L)

local function new_loc(kind, name, off) return setmetatable({ _kind = kind, _name = name, _off = off or 0 }, LocationMT) end
-- One pair per Lua state, handed to every run: C.share puts their fields back after each run.
local UTC = C.share(new_loc("utc", "UTC", 0))
local LOCAL = C.share(local_kind == "utc" and new_loc("utc", local_name, 0) or new_loc(local_kind, local_name, 0))

local function new_time(s, n, loc) return setmetatable({ _s = s, _n = n, _loc = loc }, TimeMT) end
local function new_dur(ns) return setmetatable({ _ns = ns }, DurationMT) end

-- integers --------------------------------------------------------------------------------
local function int_arg(v, what, default)
  if v == nil and default ~= nil then return default end
  if type(v) ~= "number" then error(what .. ": number expected, got " .. type(v), 3) end
  local i = tointeger(v)
  if i then return i end
  i = tointeger(floor(v)) -- nil for NaN, infinities and floats beyond the 64-bit integers
  if i == nil then error(what .. ": number has no integer representation", 3) end
  return i
end

local function tdiv(a, b) -- integer division truncating toward zero (Go's /)
  local q = a // b
  if q < 0 and q * b ~= a then q = q + 1 end
  return q
end

-- durations ---------------------------------------------------------------------------------
local function dur_ns(v, what, level)
  local tv = type(v)
  if tv == "number" then
    local i = tointeger(v)
    if i then return i end
    if v ~= v or v == huge or v == -huge then error(what .. ": invalid duration " .. tostring(v), level) end
    local r = v >= 0 and floor(v) or ceil(v)
    return tointeger(r) or error(what .. ": duration out of range", level)
  elseif tv == "string" then
    local ns, msg = py.parse_duration(v)
    if ns == nil then error(what .. ": " .. msg, level) end
    return ns
  elseif classof(v) == "time.Duration" then
    return v._ns
  end
  error(what .. ': duration expected (nanoseconds, a string like "1h30m", or a Duration), got ' .. type(v), level)
end

function D.hours(d) local h = tdiv(d._ns, 3600 * NS) return h + (d._ns - h * 3600 * NS) / (3600 * NS) end
function D.minutes(d) local m = tdiv(d._ns, 60 * NS) return m + (d._ns - m * 60 * NS) / (60 * NS) end
function D.seconds(d) local s = tdiv(d._ns, NS) return s + (d._ns - s * NS) / NS end
function D.milliseconds(d) return tdiv(d._ns, 1000000) end
function D.microseconds(d) return tdiv(d._ns, 1000) end
function D.nanoseconds(d) return d._ns end
function D.string(d) return py.duration_string(d._ns) end
function D.abs(d) return new_dur(d._ns < 0 and -d._ns or d._ns) end
function D.round(d, m)
  m = dur_ns(m, "duration:round", 3)
  if m <= 0 then return d end
  local r = d._ns % m
  if d._ns < 0 then
    r = -((-d._ns) % m)
    if r + r > -m then return new_dur(d._ns - r) end
    return new_dur(d._ns - r - m)
  end
  if r + r < m then return new_dur(d._ns - r) end
  return new_dur(d._ns + m - r)
end
function D.truncate(d, m)
  m = dur_ns(m, "duration:truncate", 3)
  if m <= 0 then return d end
  return new_dur(d._ns - (d._ns < 0 and -((-d._ns) % m) or d._ns % m))
end
DurationMT.__tostring = function(d) return py.duration_string(d._ns) end
DurationMT.__eq = function(a, b) return classof(a) == "time.Duration" and classof(b) == "time.Duration" and a._ns == b._ns end
DurationMT.__lt = function(a, b) return dur_ns(a, "<", 3) < dur_ns(b, "<", 3) end
DurationMT.__le = function(a, b) return dur_ns(a, "<=", 3) <= dur_ns(b, "<=", 3) end

-- locations -----------------------------------------------------------------------------------
local function offset_of(loc, s)
  local k = loc._kind
  if k == "utc" then return 0, "UTC" end
  if k == "fixed" then return loc._off, loc._name end
  return py.zone(k, loc._name, loc._off, s)
end

local function to_unix(loc, local_s)
  local k = loc._kind
  if k == "utc" then return local_s end
  if k == "fixed" then return local_s - loc._off end
  return py.unlocal(k, loc._name, loc._off, local_s)
end

local function check_loc(v, what)
  if classof(v) ~= "time.Location" then error(what .. ": Location expected, got " .. type(v), 3) end
  return v
end

function L.string(l) return l._name end
LocationMT.__tostring = function(l) return l._name end

-- civil calendar ------------------------------------------------------------------------------
local function civil(days)
  local z = days + 719468
  local era = z // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * ((m + 9) % 12) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function make_date(y, mo, d, h, mi, s, ns, loc)
  s = s + ns // NS
  ns = ns % NS
  local m0 = mo - 1
  y = y + m0 // 12
  mo = m0 % 12 + 1
  local local_s = (days_from_civil(y, mo, 1) + d - 1) * DAY + h * 3600 + mi * 60 + s
  return new_time(to_unix(loc, local_s), ns, loc)
end

local function local_secs(t) return t._s + (offset_of(t._loc, t._s)) end

-- times -----------------------------------------------------------------------------------------
local function check_time(v, what)
  if classof(v) ~= "time.Time" then error(what .. ": Time expected, got " .. type(v), 3) end
  return v
end

local function add_ns(t, ns)
  local s = t._s + ns // NS
  local n = t._n + ns % NS
  if n >= NS then s = s + 1; n = n - NS end
  return new_time(s, n, t._loc)
end

function T.add(t, d) return add_ns(t, dur_ns(d, "time:add", 3)) end

function T.sub(t, u)
  if classof(u) ~= "time.Time" then -- lenient: t:sub(duration) subtracts a duration
    return add_ns(t, -dur_ns(u, "time:sub", 3))
  end
  local ds, dn = t._s - u._s, t._n - u._n
  if ds > 9223372035 then return new_dur(math.maxinteger) end
  if ds < -9223372035 then return new_dur(math.mininteger) end
  return new_dur(ds * NS + dn)
end

function T.add_date(t, years, months, days)
  years = int_arg(years, "time:add_date: years", 0)
  months = int_arg(months, "time:add_date: months", 0)
  days = int_arg(days, "time:add_date: days", 0)
  local ls = local_secs(t)
  local y, m, d = civil(ls // DAY)
  local rem = ls % DAY
  return make_date(y + years, m + months, d + days, rem // 3600, rem // 60 % 60, rem % 60, t._n, t._loc)
end

local function cmp(a, b)
  if a._s ~= b._s then return a._s < b._s and -1 or 1 end
  if a._n ~= b._n then return a._n < b._n and -1 or 1 end
  return 0
end
function T.before(t, u) return cmp(t, check_time(u, "time:before")) < 0 end
function T.after(t, u) return cmp(t, check_time(u, "time:after")) > 0 end
function T.equal(t, u) return cmp(t, check_time(u, "time:equal")) == 0 end
function T.compare(t, u) return cmp(t, check_time(u, "time:compare")) end

local function format(t, layout)
  local off, abbrev = offset_of(t._loc, t._s)
  return py.format(layout, t._s + off, t._n, off, abbrev)
end
function T.format(t, layout)
  if type(layout) ~= "string" then error("time:format: layout string expected, got " .. type(layout), 2) end
  return format(t, layout)
end
function T.format_rfc3339(t) return format(t, "2006-01-02T15:04:05Z07:00") end
function T.string(t) return format(t, "2006-01-02 15:04:05.999999999 -0700 MST") end

function T.unix(t) return t._s end
function T.unix_milli(t) return t._s * 1000 + t._n // 1000000 end
function T.unix_micro(t) return t._s * 1000000 + t._n // 1000 end
function T.unix_nano(t) return t._s * NS + t._n end

function T.date(t) return civil(local_secs(t) // DAY) end
function T.clock(t)
  local rem = local_secs(t) % DAY
  return rem // 3600, rem // 60 % 60, rem % 60
end
function T.year(t) local y = civil(local_secs(t) // DAY) return y end
function T.month(t) local _, m = civil(local_secs(t) // DAY) return m end
function T.day(t) local _, _, d = civil(local_secs(t) // DAY) return d end
function T.hour(t) return local_secs(t) % DAY // 3600 end
function T.minute(t) return local_secs(t) % 3600 // 60 end
function T.second(t) return local_secs(t) % 60 end
function T.nanosecond(t) return t._n end
function T.weekday(t) return (local_secs(t) // DAY + 4) % 7 end
function T.year_day(t)
  local days = local_secs(t) // DAY
  local y = civil(days)
  return days - days_from_civil(y, 1, 1) + 1
end
function T.is_zero(t) return t._s == ZERO_UNIX and t._n == 0 end
function T.utc(t) return new_time(t._s, t._n, UTC) end
function T.in_local(t) return new_time(t._s, t._n, LOCAL) end
function T.in_location(t, loc) return new_time(t._s, t._n, check_loc(loc, "time:in_location")) end
function T.location(t) return t._loc end
function T.zone(t)
  local off, abbrev = offset_of(t._loc, t._s)
  return abbrev, off
end
local function rounding(t, d, mode)
  local ns = dur_ns(d, "time:" .. mode, 3) -- level 3: T.round tail-calls rounding
  if ns <= 0 then return new_time(t._s, t._n, t._loc) end
  local s, n = py.round(t._s, t._n, ns, mode)
  return new_time(s, n, t._loc)
end
function T.round(t, d) return rounding(t, d, "round") end
function T.truncate(t, d) return rounding(t, d, "truncate") end

TimeMT.__tostring = T.string
TimeMT.__eq = function(a, b) return classof(a) == "time.Time" and classof(b) == "time.Time" and cmp(a, b) == 0 end
TimeMT.__lt = function(a, b) return cmp(check_time(a, "<"), check_time(b, "<")) < 0 end
TimeMT.__le = function(a, b) return cmp(check_time(a, "<="), check_time(b, "<=")) <= 0 end

-- module functions ------------------------------------------------------------------------------
local M = {}

local function from_ns(ns, loc) return new_time(ns // NS, ns % NS, loc or LOCAL) end

function M.unix(sec, nsec)
  if type(sec) ~= "number" then error("time.unix: seconds must be a number", 2) end
  local s = tointeger(sec)
  local n = int_arg(nsec, "time.unix: nanoseconds", 0)
  if not s then
    s = tointeger(floor(sec))
    if s == nil then error("time.unix: seconds out of range (" .. tostring(sec) .. ")", 2) end
    n = n + floor((sec - s) * NS)
  end
  s = s + n // NS
  return new_time(s, n % NS, LOCAL)
end

function M.date(y, mo, d, h, mi, s, ns, loc)
  y = int_arg(y, "time.date: year")
  mo = int_arg(mo, "time.date: month")
  d = int_arg(d, "time.date: day")
  h = int_arg(h, "time.date: hour", 0)
  mi = int_arg(mi, "time.date: minute", 0)
  s = int_arg(s, "time.date: second", 0)
  ns = int_arg(ns, "time.date: nanosecond", 0)
  if loc == nil then loc = UTC else check_loc(loc, "time.date") end
  return make_date(y, mo, d, h, mi, s, ns, loc)
end

function M.parse(layout, value, loc)
  if type(layout) ~= "string" then error("time.parse: layout string expected, got " .. type(layout), 2) end
  if type(value) ~= "string" then error("time.parse: value string expected, got " .. type(value), 2) end
  local default, localz = UTC, LOCAL
  if loc ~= nil then
    check_loc(loc, "time.parse")
    default, localz = loc, loc
  end
  local s, n, tag, name, off = py.parse(layout, value, default._kind, default._name, default._off,
    localz._kind, localz._name, localz._off)
  if s == nil then return nil, n end
  local where
  if tag == "utc" then where = UTC
  elseif tag == "local" then where = localz
  elseif tag == "fixed" then where = new_loc("fixed", name, off)
  else where = default end
  return new_time(s, n, where), nil
end

function M.parse_duration(v)
  local tv = type(v)
  if tv == "string" then
    local ns, msg = py.parse_duration(v)
    if ns == nil then return nil, py.error("Invalid", msg) end
    return new_dur(ns), nil
  end
  if tv == "number" or classof(v) == "time.Duration" then return new_dur(dur_ns(v, "time.parse_duration", 3)), nil end
  return nil, py.error("Invalid", "time.parse_duration: string, number or Duration expected, got " .. tv)
end

function M.load_location(name)
  if type(name) ~= "string" then error("time.load_location: name string expected, got " .. type(name), 2) end
  -- Go reads "" as UTC; the spec makes it an error: an empty name is a missing setting
  if name == "" then return nil, py.error("Invalid", 'time.load_location: empty time zone name (use "UTC" or "Local")') end
  if name == "UTC" then return UTC, nil end
  if name == "Local" then return LOCAL, nil end
  local ok, kind, msg = py.check_zone(name)
  if not ok then return nil, py.error(kind, msg) end
  return new_loc("zone", name, 0), nil
end

function M.fixed_zone(name, offset)
  if type(name) ~= "string" then error("time.fixed_zone: name string expected, got " .. type(name), 2) end
  return new_loc("fixed", name, int_arg(offset, "time.fixed_zone: offset"))
end

M.utc = UTC
M.localtz = LOCAL
M.NANOSECOND, M.MICROSECOND, M.MILLISECOND = 1, 1000, 1000000
M.SECOND, M.MINUTE, M.HOUR = NS, 60 * NS, 3600 * NS
local months = { "JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER",
  "OCTOBER", "NOVEMBER", "DECEMBER" }
for i = 1, 12 do M[months[i]] = i end
local days = { "SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY" }
for i = 1, 7 do M[days[i]] = i - 1 end

-- Nanoseconds of the duration argument of a blocking call (sleep, timers): integer
-- nanoseconds, a Go string or a Duration; nil, err (kind Invalid) for anything else. The
-- Duration's field is checked: a run may have written anything into its own objects.
local function to_ns(d)
  local td = type(d)
  local ns
  if td == "number" then
    ns = tointeger(d)
    if ns == nil then
      if d ~= d or d >= 2 ^ 63 or d < -(2 ^ 63) then return nil, py.error("Invalid", "invalid duration " .. tostring(d)) end
      ns = tointeger(d >= 0 and floor(d) or ceil(d))
    end
  elseif td == "string" then
    if not utf8.len(d) then return nil, py.error("Invalid", "duration: " .. C.BINARY) end
    local msg
    ns, msg = py.parse_duration(d)
    if ns == nil then return nil, py.error("Invalid", msg) end
  elseif classof(d) == "time.Duration" then
    ns = rawget(d, "_ns")
    if mtype(ns) ~= "integer" then return nil, py.error("Invalid", "damaged Duration object") end
  else
    return nil, py.error("Invalid", 'duration expected (nanoseconds, a string like "1h30m", or a Duration), got '
      .. type(d))
  end
  return ns
end

-- `now` needs the host clock of one install: built per install from a Python reader.
local function make_now(read_ns) return function() return from_ns(read_ns(), LOCAL) end end

return {
  M = M, from_ns = from_ns, new_dur = new_dur, make_now = make_now, dur_ns = dur_ns, to_ns = to_ns,
  UTC = UTC, LOCAL = LOCAL, new_time = new_time,
}
