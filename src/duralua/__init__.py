"""duralua: durable Lua workflows for Python."""
