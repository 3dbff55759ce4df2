"""Pooled Lua states under stress (issue 7, item 3): every module, hundreds of runs, one process.

lupa ties each Lua proxy to the Lua thread that was running when it was made; a proxy that
Python keeps after its coroutine is gone corrupts the heap once the pooled state is reused
(``require("uuid")`` in a workflow crashed the process with SIGSEGV after a few dozen runs).
The runs happen in a child process, so that a crash is a test failure and not a dead pytest.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

RUNS = 300

# One workflow per module: it requires the module in its chunk (run in the loading
# coroutine) and again in the run's coroutine, makes objects, raises and catches errors.
WORKFLOWS = {
    "errors": """
        return function()
          local e = errors.new({message = "m", kind = errors.NOT_FOUND, details = {n = 1}})
          local w = errors.wrap(e, "ctx")
          local ok, got = pcall(error, w)
          return {kind = got:kind(), text = tostring(got), is = errors.is(got, errors.NOT_FOUND)}
        end""",
    "json": """
        local json = require("json")
        return function()
          local t = json.decode('{"a": [1, 2, {"b": {}}]}')
          local s = json.encode(t)
          local _, err = json.encode({f = print})
          return {s = s, err = err and err:kind()}
        end""",
    "uuid": """
        local uuid = require("uuid")
        return function()
          local u = require("uuid")
          local v4 = u.v4()
          local p = uuid.parse(uuid.v7())
          return {ok = uuid.validate(v4), v = p.version, bad = select(2, uuid.parse("x")) ~= nil}
        end""",
    "time": """
        local time = require("time")
        return function()
          local t = time.now():add(time.parse_duration("90m"))
          time.sleep("1ms")
          local d = time.parse_duration("1h30m")
          return {h = d:hours(), y = t:year() > 2000, z = time.utc:string()}
        end""",
    "crypto": """
        local crypto = require("crypto")
        return function()
          local c = require("crypto")
          local b = crypto.random.bytes(16)
          return {n = #b, mac = #c.hmac.sha256("k", b), s = #crypto.random.string(8)}
        end""",
    "hash": """
        local hash = require("hash")
        return function() return {md5 = hash.md5("x"), crc = hash.crc32("\\255\\0")} end""",
    "base64": """
        local base64 = require("base64")
        return function()
          local raw = base64.decode(base64.encode("\\255\\254"))
          local _, err = base64.decode("!!")
          return {n = #raw, err = err and err:kind()}
        end""",
    "payload": """
        local payload = require("payload")
        return function()
          local p = payload.new({a = 1})
          local j = p:transcode(payload.format.JSON)
          return {f = j:get_format(), a = j:data().a}
        end""",
    "os": """
        return function() return {t = os.time() > 0, d = os.date("!%Y", 0), p = os.platform} end""",
    "ctx": """
        local ctx = require("ctx")
        return function()
          local _, err = ctx.get("missing")
          return {all = ctx.all(), err = err:kind()}
        end""",
    "funcs": """
        local funcs = require("funcs")
        return function()
          local v = funcs.call("s:act", 21)
          local f = funcs.new():with_options({}):async("s:act", 1)
          local r = f:response():receive()
          return {v = v, r = r:data()}
        end""",
    "channel": """
        return function()
          local ch = channel.new(1)
          coroutine.spawn(function() ch:send({x = 1}) end)
          local v = ch:receive()
          local sel = channel.select({ch:case_send(2)})
          return {x = v.x, sent = sel.ok}
        end""",
    "workflow": """
        local workflow = require("workflow")
        return function() return {v = workflow.version("c", 1, 2), n = workflow.history_length() >= 0} end""",
    "process": """
        local process = require("process")
        return function()
          local ch = process.listen("topic")
          local sp = process.with_context({a = 1}):with_name("n"):with_message("t", {k = 1})
          return {pid = process.pid() ~= "", id = process.id(), unlisten = process.unlisten(ch),
                  trap = process.get_options().trap_links, sp = type(sp)}
        end""",
    "raises": """
        local uuid = require("uuid")
        return function() error(errors.new({message = uuid.v4(), kind = errors.CONFLICT})) end""",
    "returns_err": """
        local crypto = require("crypto")
        return function()
          return nil, errors.new({message = #crypto.random.bytes(4) .. "", kind = errors.INVALID})
        end""",
}

MODULES = {"errors": [], "channel": [], "raises": ["uuid"], "returns_err": ["crypto"]}

ACT = """
local uuid, crypto = require("uuid"), require("crypto")
return {act = function(x) return uuid.validate(uuid.v4()) and #crypto.random.bytes(2) + x end}
"""

DRIVER = r"""
import asyncio, gc, json, sys
from duralua import App
from duralua.lua import sandbox
from duralua.testing import WorkflowEnvironment

made = 0
init = sandbox.LuaSandbox.__init__
def counting(self, *a, **kw):
    global made
    made += 1
    init(self, *a, **kw)
sandbox.LuaSandbox.__init__ = counting

names, runs = sys.argv[2].split(","), int(sys.argv[3])

async def main():
    async with WorkflowEnvironment(App(sys.argv[1], log=None)) as env:
        first = {}
        for i in range(runs):
            # one run of every workflow per round; the next round's runs reuse their states
            pids = [await env.start(f"s:{name}", "s:worker") for name in names]
            for name, pid in zip(names, pids):
                value, failure = await env.outcome(pid)
                got = json.dumps([value, failure and [failure.kind, failure.retryable]], sort_keys=True)
                if name in first and got != first[name] and name not in ("raises", "returns_err"):
                    print(f"run {i} of {name} changed: {first[name]} -> {got}", flush=True)
                    sys.exit(3)
                first.setdefault(name, got)
            gc.collect()
        print(json.dumps({"results": first, "lua_states": made}), flush=True)

asyncio.run(main())
"""


def write_app(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "wippy.lock").write_text("directories:\n  src: ./src\n  modules: .wippy\n")
    lines = [
        'version: "1.0"',
        "namespace: s",
        "entries:",
        '  - {name: client, kind: temporal.client, address: "127.0.0.1:7233"}',
        "  - {name: worker, kind: temporal.worker, client: client, task_queue: s}",
        "  - {name: act, kind: function.lua, source: file://act.lua, method: act, modules: [uuid, crypto],",
        "     meta: {temporal: {activity: {worker: worker}}}}",
    ]
    (root / "src" / "act.lua").write_text(ACT)
    for name, source in WORKFLOWS.items():
        mods = MODULES.get(name, [name])
        (root / "src" / f"{name}.lua").write_text(textwrap.dedent(source).strip() + "\n")
        entry = f"{{name: {name}, kind: workflow.lua, source: file://{name}.lua, modules: [{', '.join(mods)}],"
        lines.append(f"  - {entry}")
        lines.append("     meta: {temporal: {workflow: {worker: worker}}}}")
    (root / "src" / "_index.yaml").write_text("\n".join(lines) + "\n")
    return root


def test_every_module_survives_hundreds_of_runs_on_reused_states(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app")
    script = tmp_path / "drive.py"
    script.write_text(DRIVER)
    proc = subprocess.run(
        [sys.executable, str(script), str(app), ",".join(WORKFLOWS), str(RUNS)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, f"exit {proc.returncode} (-11 is SIGSEGV): {proc.stdout[-2000:]}{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    results = {name: json.loads(text) for name, text in report["results"].items()}
    for name in WORKFLOWS:
        value, failure = results[name]
        if name == "raises":
            assert failure == ["Conflict", None]
        elif name == "returns_err":
            assert failure == ["Invalid", None] and value is None
        else:
            assert failure is None, (name, value, failure)
    assert results["errors"][0] == {"kind": "NotFound", "text": "ctx: m", "is": True}
    assert results["uuid"][0] == {"ok": True, "v": 7, "bad": True}
    assert results["crypto"][0] == {"n": 16, "mac": 64, "s": 8}
    assert results["funcs"][0] == {"v": 23, "r": 3}
    assert results["process"][0] == {"pid": True, "id": "s:process", "unlisten": True, "trap": False, "sp": "userdata"}
    assert results["channel"][0] == {"x": 1, "sent": True}
    # the states were reused: far fewer Lua states than runs (activities and workflows)
    assert report["lua_states"] < len(WORKFLOWS) * 10, report["lua_states"]
