-- The ordinary-code modules, a few representative checks each.
local json = require("json")
local uuid = require("uuid")
local time = require("time")
local base64 = require("base64")
local hash = require("hash")
local ctx = require("ctx")

local M = {}

function M.json()
  local decoded = json.decode('{"name": "ada", "tags": ["a", "b"], "nothing": null, "obj": {}}')
  local _, bad = json.decode("{not json")
  local _, unencodable = json.encode({f = print})
  return {
    encoded = json.encode({b = 1, a = {1, 2, 3}, c = "x"}),
    name = decoded.name,
    second_tag = decoded.tags[2],
    has_nothing = decoded.nothing ~= nil,
    empty_object = json.encode(decoded.obj),
    empty_table = json.encode({}),
    bad_kind = bad:kind(),
    unencodable_kind = unencodable:kind(),
  }
end

function M.uuid(ns, name)
  local id = uuid.v4()
  local v7 = uuid.v7()
  return {
    v4 = id,
    v4_valid = uuid.validate(id),
    v4_version = uuid.version(id),
    v4_again_differs = uuid.v4() ~= id,
    v7_version = uuid.version(v7),
    v5 = uuid.v5(ns, name),
    invalid = uuid.validate("not-a-uuid"),
  }
end

function M.time()
  local epoch = time.unix(0, 0):utc()
  local d = time.parse_duration("1h30m")
  local t = time.date(2024, time.FEBRUARY, 29, 12, 30, 0, 0, time.utc)
  local _, bad = time.parse_duration("soon")
  return {
    epoch = epoch:format(time.RFC3339),
    minutes = d:minutes(),
    leap_next_day = t:add_date(0, 0, 1):format(time.DATE_ONLY),
    plus_90m = t:add("90m"):format(time.RFC3339),
    now_unix = time.now():unix(),
    millisecond = time.MILLISECOND,
    bad_kind = bad and bad:kind(),
  }
end

function M.sleep(d)
  local before = time.now()
  time.sleep(d)
  return time.now():sub(before):milliseconds()
end

function M.encoding()
  local _, bad = base64.decode("***")
  return {
    b64 = base64.encode("hello, world"),
    b64_back = base64.decode("aGVsbG8sIHdvcmxk"),
    b64_bad_kind = bad:kind(),
    sha256 = hash.sha256("abc"),
    md5 = hash.md5(""),
    crc32 = hash.crc32("hello"),
  }
end

function M.ctx()
  local user = ctx.get("user")
  local _, missing = ctx.get("nope")
  return {user = user, all = ctx.all(), missing_kind = missing:kind()}
end

-- The spec's producer/consumer example: a spawned coroutine sums what the main one sends.
function M.channels()
  local jobs, done = channel.new(4), channel.new()
  coroutine.spawn(function()
    local sum = 0
    for v in function() local x, ok = jobs:receive(); if ok then return x end end do sum = sum + v end
    done:send(sum)
  end)
  for i = 1, 3 do jobs:send(i) end
  jobs:close()
  local sum, ok = done:receive()
  local after, ok_after = jobs:receive()
  return {sum = sum, ok = ok, after_close = after == nil and ok_after == false}
end

function M.select()
  local idle, ready = channel.new(), channel.new(1)
  local first = channel.select{idle:case_receive(), default = true}
  ready:send("x")
  local second = channel.select{idle:case_receive(), ready:case_receive(), default = true}
  local out = channel.new(1)
  local third = channel.select{out:case_send("sent")}
  return {
    first_default = first.default == true and first.channel == nil,
    second_value = second.value,
    second_from_ready = second.channel == ready,
    second_default = second.default == true,
    third_sent = third.channel == out and third.ok,
    third_buffered = out:receive(),
  }
end

local function main(which, ...)
  return M[which](...)
end

return {main = main}
