-- The `registry` module (spec runtime-modules.md §1): reads of the app's (static) registry.
-- Entries come from the host ("registry.get"/"registry.find" host ops); the registry of a
-- duralua app does not change while it runs, so there is one Version (1) and changes cannot
-- be applied (nil, err / false, err as the spec allows, never a raise).
local C, call = ...
local new_error = C.new_error
local type, error, setmetatable, tostring, find, sub = type, error, setmetatable, tostring, string.find, string.sub

local function err(kind, msg) return new_error(kind, msg, false) end
local host_op = false
local function op(...)
  if not host_op then host_op = call("host_op") end
  if not host_op then return nil, err("Internal", "registry needs a function or process call (no host here)") end
  return host_op(...)
end

local function class(name)
  local methods = {}
  return C.class(name, methods), methods
end
local function private() return setmetatable({}, { __mode = "k" }) end

local M = {}

function M.get(id)
  if type(id) ~= "string" then return nil, err("Invalid", "entry id must be a string") end
  return op("registry.get", id)
end

function M.find(filter)
  if type(filter) ~= "table" then error("registry.find: filter must be a table", 2) end
  return op("registry.find", filter)
end

function M.parse_id(s)
  if type(s) ~= "string" then error("registry.parse_id: string expected", 2) end
  local colon = find(s, ":", 1, true)
  if not colon then return { ns = "", name = s } end
  return { ns = sub(s, 1, colon - 1), name = sub(s, colon + 1) }
end

local VersionMT, Version = class("registry.Version")
local version_id = private()
local BOOT = setmetatable({}, VersionMT)
version_id[BOOT] = 1
function Version:id() return version_id[self] end
function Version:previous() return nil end
Version["next"] = function() return nil end
function Version:string() return tostring(version_id[self]) end
VersionMT.__tostring = function(self) return "registry.Version{" .. tostring(version_id[self]) .. "}" end

local UNSUPPORTED = "registry changes are not supported by duralua (the registry is loaded from the app's files)"

local ChangesMT, Changes = class("registry.Changes")
local changes_of = private()
local function changes(self)
  local c = changes_of[self]
  if not c then error("not a registry.Changes object (use changes:method())", 3) end
  return c
end
local function entry_ok(e)
  if type(e) ~= "table" then return false end
  local id = e.id
  if type(id) ~= "string" and not (type(id) == "table" and type(id.ns) == "string" and type(id.name) == "string") then
    return false
  end
  return type(e.kind) == "string"
end
function Changes:create(e)
  local c = changes(self)
  if not entry_ok(e) then return nil, err("Invalid", "entry needs a string id (or {ns=, name=}) and a string kind") end
  c[#c + 1] = { kind = "entry.create", entry = e }
  return self
end
function Changes:update(e)
  local c = changes(self)
  if not entry_ok(e) then return nil, err("Invalid", "entry needs a string id (or {ns=, name=}) and a string kind") end
  c[#c + 1] = { kind = "entry.update", entry = e }
  return self
end
function Changes:delete(id)
  local c = changes(self)
  c[#c + 1] = { kind = "entry.delete", entry = { id = id } }
  return self
end
function Changes:ops()
  local c, out = changes(self), {}
  for i = 1, #c do out[i] = c[i] end
  return out
end
function Changes:apply()
  local c = changes(self)
  if #c == 0 then return nil, err("Invalid", "no changes to apply") end
  return nil, err("Internal", UNSUPPORTED)
end

local SnapshotMT, Snapshot = class("registry.Snapshot")
local snapshots = private()
local function snapshot(self)
  if not snapshots[self] then error("not a registry.Snapshot (use snapshot:method())", 3) end
  return self
end
local function new_snapshot()
  local s = setmetatable({}, SnapshotMT)
  snapshots[s] = true
  return s
end
function Snapshot:entries() snapshot(self) return op("registry.find", {}) end
function Snapshot:get(id) snapshot(self) return M.get(id) end
function Snapshot:find(filter)
  snapshot(self)
  if type(filter) ~= "table" then return nil, err("Invalid", "filter must be a table") end
  return op("registry.find", filter)
end
function Snapshot:namespace(ns)
  snapshot(self)
  if type(ns) ~= "string" then return nil, err("Invalid", "namespace must be a string") end
  return op("registry.find", { [".ns"] = ns })
end
function Snapshot:version() snapshot(self) return BOOT end
function Snapshot:changes()
  snapshot(self)
  local c = setmetatable({}, ChangesMT)
  changes_of[c] = {}
  return c
end
SnapshotMT.__tostring = function() return "registry.Snapshot{version=1}" end

function M.snapshot() return new_snapshot(), nil end
function M.current_version() return BOOT, nil end
function M.versions() return { BOOT }, nil end
function M.snapshot_at(n)
  if type(n) ~= "number" or n <= 0 then return nil, err("Invalid", "invalid version ID") end
  if n ~= 1 then return nil, err("NotFound", "version not found") end
  return new_snapshot(), nil
end

local HistoryMT, History = class("registry.History")
local histories = private()
function History:versions() return { BOOT }, nil end
function History:get_version(id)
  if type(id) ~= "number" or id < 0 then return nil, err("Invalid", "invalid version ID") end
  if id ~= 1 then return nil, err("NotFound", "version not found") end
  return BOOT, nil
end
function History:snapshot_at(v)
  local id = version_id[v] or v
  return M.snapshot_at(id)
end
function M.history()
  local h = setmetatable({}, HistoryMT)
  histories[h] = true
  return h, nil
end

function M.apply_version(v)
  if not version_id[v] then return false, err("Invalid", "expected version object") end
  return false, err("Internal", UNSUPPORTED)
end

function M.build_delta(from, to)
  if not version_id[from] or not version_id[to] then return nil, err("Invalid", "expected version objects") end
  return {}, nil
end

return M
