error("this process cannot be loaded")
return {main = function() end}
