-- An ordinary function that starts a workflow, signals it and waits for the result.
local function run(expect)
  local pid, err = process.spawn("conf:signals", "conf:worker", expect)
  if err then return nil, err end
  for i = 1, expect do
    process.send(pid, "note", {n = i})
  end
  process.send(pid, "ctrl", "done")
  local res, xerr = process.exec("conf:activities", "conf:worker", 2)
  if xerr then return nil, xerr end
  local bad, berr = process.send("not-a-pid", "x")
  return {pid = pid, exec_sum = res.sum, send_err = berr and berr:kind()}
end
return {run = run}
