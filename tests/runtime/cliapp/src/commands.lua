local M = {}

function M.greet(who)
  local io = require("io")
  io.print("hello", who or "world")
  io.write("args:", #io.args(), "\n")
  return 0
end

function M.code(n) return tonumber(n) end

function M.fails() error("bad things happened") end

function M.says(text) return "you said " .. tostring(text) end

function M.nope() return false end

function M.echo_stdin()
  local io = require("io")
  local lines = 0
  while true do
    local line = io.readline()
    if line == nil then break end
    lines = lines + 1
    io.print("got: " .. line)
  end
  io.eprint("lines:", lines)
  return lines
end

function M.plain(a, b)
  require("io").print("plain", a, b)
end

function M.answerer()
  local msg = process.inbox():receive()
  process.send(msg:from(), "answer", "42")
end

function M.ask()
  local pid = process.spawn("cli:answerer", "cli:procs")
  process.send(pid, "question")
  local msg = process.inbox():receive()
  require("io").print("the answer is " .. msg:payload():data())
  return true
end

return M
