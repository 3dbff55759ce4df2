local M = {}

function M.passes() return true end
function M.returns_false() return false end
function M.raises() error("this test raises") end
function M.returns_err() return nil, "this test returns an error" end
function M.status_error() return {status = "error", error = "reported as an error"} end
function M.hangs() require("time").sleep("1h") end

function M.echo()
  local msg = process.inbox():receive()
  process.send(msg:from(), "echo", (msg:payload():data()))
end

function M.uses_process(t)
  assert(type(t) == "table" and t.topic == "test:update", "the runner's argument")
  local pid = process.spawn("tapp:echo", "tapp:procs")
  process.send(pid, "x", "hi")
  local msg = process.inbox():receive()
  assert(msg:payload():data() == "hi")
end

-- A BDD-style test reporting its cases to the runner (what wippy/test's run_cases does).
function M.bdd(t)
  local function report(kind, data)
    data.ref_id = t.ref_id
    process.send(t.pid, t.topic, {type = kind, data = data})
  end
  report("test:plan", {suites = {{name = "math", tests = {"adds", "fails", "skips"}}}})
  report("test:case:pass", {suite = "math", test = "adds", duration = 1})
  report("test:case:fail", {suite = "math", test = "fails", error = "1 ~= 2", duration = 1})
  report("test:case:skip", {suite = "math", test = "skips", duration = 0})
  report("test:complete", {total = 3, passed = 1, failed = 1, skipped = 1})
end

return M
