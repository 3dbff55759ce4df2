-- Talks to other workflows: signals (with itself as sender) and a cancel request.
return function(counter, victim)
  local ok1 = process.send(counter, "increment", 2)
  local ok2 = process.send(counter, "finish")
  local ok3, e3 = process.cancel(victim)
  local ok4, e4 = process.send("{t:client@t:worker|no-such-workflow}", "x", 1)
  return {sent = ok1 == true and ok2 == true, canceled = ok3 == true, cancel_err = e3 and e3:message(),
          missing_kind = e4 and e4:kind(), me = process.pid()}
end
