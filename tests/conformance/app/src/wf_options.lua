-- Workflows for start options: timeouts, start delay, cron, id policies.
local time = require("time")
local workflow = require("workflow")

-- Sleeps `ms` (a negative value fails the run), reports when its first task ran.
local function sleepy(ms)
  local first_ms = time.now():unix_milli()
  if ms < 0 then return nil, errors.new{message = "asked to fail", kind = errors.INVALID, retryable = false} end
  if ms > 0 then time.sleep(ms * 1000000) end
  return {first_ms = first_ms, run_id = workflow.info().run_id}
end

-- One cron tick: when it ran.
local function tick()
  return {at_ms = time.now():unix_milli(), attempt = workflow.info().attempt}
end

-- A child that must be refused: start_delay is for top-level starts only.
local function delayed_child()
  local pid, err = process.with_options({["workflow.start_delay"] = "1s"}):spawn("conf:sleepy", "", 0)
  return {pid = pid, kind = err and err:kind(), message = err and err:message()}
end

-- Children of one id started one after the other under reuse policies.
local function child_reuse()
  local evs = process.events()
  local function start(policy)
    local opts = {["workflow.id"] = "kid-reuse"}
    if policy then opts["workflow.id_reuse_policy"] = policy end
    local _, err = process.with_options(opts):spawn("conf:sleepy", "", 0)
    if err then return err:kind() end
    evs:receive() -- its EXIT
    return "started"
  end
  return {first = start(nil), reject = start("reject_duplicate"), failed_only = start("allow_duplicate_failed_only"),
          allow = start("allow_duplicate")}
end

return {sleepy = sleepy, tick = tick, delayed_child = delayed_child, child_reuse = child_reuse}
