-- Escape attempts: each one must fail cleanly inside the sandbox.
local attempts = {
  os_execute = function(marker) return os.execute("touch " .. marker) end,
  io_open = function(marker) local f = io.open(marker, "w") f:write("escaped") f:close() return true end,
  load = function() return load("return 1")() end,
  loadstring = function() return loadstring("return 1")() end,
  dofile = function(marker) return dofile(marker) end,
  string_dump = function() return ("").dump(function() end) end,
  string_metatable = function() return getmetatable("").__index end,
  debug_getinfo = function() return debug.getinfo(1) end,
  python = function() return python.eval("1") end,
  require_io = function() return require("io") end,
  collectgarbage = function() return collectgarbage("count") end,
  package = function() return package.loadlib("libc.so.6", "system") end,
}

local function main(what, marker)
  return attempts[what](marker)
end

-- What ordinary code sees when it looks for the dangerous globals.
local function globals()
  return {
    os_execute = type(os.execute), os_getenv = type(os.getenv), os_exit = type(os.exit),
    os_remove = type(os.remove), io = type(io), load = type(load), loadstring = type(loadstring),
    dofile = type(dofile), loadfile = type(loadfile), debug = type(debug), package = type(package),
    python = type(python), collectgarbage = type(collectgarbage), string_dump = type(string.dump),
    string_meta_dump = type(("").dump), string_metatable = tostring(getmetatable("")),
    -- what must still be there
    os_time = type(os.time), string_format = type(("%d"):format(1)), pcall = type(pcall),
  }
end

-- Built-in functions are Lua functions for type().
local function builtin_types()
  local ctx = require("ctx")
  return {require = type(require), ctx_get = type(ctx.get), ctx_all = type(ctx.all), print = type(print),
          errors_new = type(errors.new), channel_new = type(channel.new)}
end

return {main = main, globals = globals, builtin_types = builtin_types}
