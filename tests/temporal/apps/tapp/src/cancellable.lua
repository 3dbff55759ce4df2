return function()
  local ev = process.events():receive()
  return {kind = ev.kind, from = ev.from}
end
