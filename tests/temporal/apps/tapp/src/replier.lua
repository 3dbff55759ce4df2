-- Replies to a (non-workflow) process: a side effect done once.
return function(to)
  local ok, err = process.send(to, "reply", {hello = "from workflow", me = process.pid()})
  return {sent = ok == true, err = err and err:message()}
end
