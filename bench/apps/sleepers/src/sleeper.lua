local time = require("time")
return function(seconds)
  time.sleep(string.format("%dms", math.floor(seconds * 1000)))
  return "woke"
end
