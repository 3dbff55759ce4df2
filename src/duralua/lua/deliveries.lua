-- What the scheduler delivers into Lua: messages (process.Message), plain values, and the
-- channels of the mailbox topics that modules read their events from (the part of the driver
-- that needs only its internals).
--
-- Run once per Lua state right after driver.lua, with the driver's privileged internals (`I`,
-- which Python passes and user code never sees). A delivery's value goes into the driver's
-- stash (I.put), which is per tenant: it is made for the tenant current when it arrives.
local D, I, H = ...

local put, make_payload, class, private = I.put, I.make_payload, I.class, I.private
local make_channel, chan_id, subscribe, unsubscribe = I.make_channel, I.chan_id, I.subscribe, I.unsubscribe
local close_channel = H.close_channel
local pack, unpack = table.pack, table.unpack

-------------------------------------------------------------------------------------------
-- messages
-------------------------------------------------------------------------------------------
local MessageMT, Message = class("process.Message")
local msg_of = private()
local function message(self)
  local m = msg_of[self]
  if m == nil then error("not a message (use msg:method())", 3) end
  return m
end
function Message:topic() return message(self).topic end
function Message:from() return message(self).from end
function Message:payload()
  local m = message(self)
  local p = m.payloads
  if p == nil then  -- made on first use: most receivers of a message never look at it twice
    local values = m.values
    p = { n = values.n }
    for i = 1, values.n do p[i] = make_payload(values[i]) end
    m.payloads, m.values = p, nil
  end
  if p.n == 0 then return nil end
  if p.n == 1 then return p[1] end
  return { unpack(p, 1, p.n) }
end
MessageMT.__tostring = function(self)
  local m = msg_of[self]
  return "process.Message{topic=" .. (m and m.topic or "?") .. "}"
end

-- Called from Python (Scheduler.flush -> VM.materialize): build the Lua value of a delivery.
function D.make_message(topic, from, as_message, ...)
  local values = pack(...)
  if as_message then
    local m = setmetatable({}, MessageMT)
    msg_of[m] = { topic = topic, from = from or "", values = values }
    return put(m)
  end
  if values.n == 0 then return put(nil) end
  if values.n == 1 then return put(values[1]) end
  return put({ unpack(values, 1, values.n) })
end

function D.make_value(v) return put(v) end

-------------------------------------------------------------------------------------------
-- mailbox topics
-------------------------------------------------------------------------------------------
-- For modules whose values arrive as deliveries (events): a channel fed by the mailbox topic
-- `topic` (values, not messages), and its removal (the channel reads as closed after).
function D.topic_channel(topic, size)
  local ch = make_channel(size)
  subscribe(topic, chan_id[ch], false)
  return ch
end
function D.drop_topic(topic, ch)
  unsubscribe(topic)
  local id = chan_id[ch]
  if id then close_channel(id) end
  return true
end
