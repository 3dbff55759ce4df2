"""registry, events, logger, env, security and io (outside a terminal) from Lua."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from duralua.checker import check_app

from .conftest import served


def test_runtime_modules(tmp_path: Path) -> None:
    async def main() -> tuple[Any, str]:
        async with served(tmp_path) as s:
            return await s.call("rt:drive_mods"), s.log_text()

    res, log = asyncio.run(main())
    assert res["get"] == {"id": "rt:echo", "kind": "process.lua", "method": "echo", "has_source": True}
    assert res["get_missing"] == "NotFound: entry not found: rt:none"
    assert res["find"] == ["rt:session", "rt:sleeper", "rt:spammer", "rt:spinner"]
    assert res["find_hosts"] == 3 and res["find_ignored"] is True and res["raises"] is True
    assert res["parse"] == {"ns": "a.b", "name": "c"}
    assert res["snapshot"] == {"text": "registry.Snapshot{version=1}", "version": 1, "ns": True}
    assert res["apply"].startswith("Internal: registry changes are not supported")
    assert res["snapshot_at0"] == "Invalid: invalid version ID"
    assert res["env"] == {"greeting": "hi", "empty": "fallback", "by_id": "hi"}
    assert res["env_missing"] == "NotFound: environment variable not found: NOPE"
    assert res["env_empty"] == "Invalid: empty key"
    assert res["env_set"] is True and res["env_after"] == "7"
    assert res["env_readonly"] == "PermissionDenied: environment variable is read-only"
    assert res["env_all_has"] == "hi"
    assert res["dot_call_raises"] is True and res["empty_name_raises"] == "name cannot be empty"
    assert res["no_actor"] is True and res["actor"] == {"id": "user:1", "role": "admin"}
    assert res["nil_actor"] == "actor cannot be nil" and res["can"] is False
    assert res["io"] == {"err": "Unavailable: no terminal context", "args": 0}
    assert res["send"] is True
    assert res["event"] == {
        "evt": {"system": "orders.eu", "kind": "order.placed", "path": "/orders/7", "data": {"total": 30}},
        "closed_ok": False,
    }
    assert res["send_bad"] == "Invalid: system is required"
    assert res["subscribe_bad"] == "Invalid: system pattern is required"
    # logger: the app's log, structured fields, pid and location, below-level lines dropped
    assert 'INFO order placed {"location": "rt:drive_mods:' in log and '"ok": true, "order": 7}' in log
    assert 'WARN billing: slow {"location": "rt:drive_mods:' in log and '"region": "eu"' in log
    assert "hidden by the level" not in log


def test_workflows_cannot_list_runtime_modules(tmp_path: Path) -> None:
    app = tmp_path / "wfmods"
    (app / "src").mkdir(parents=True)
    (app / "wippy.lock").write_text("directories:\n  src: ./src\n")
    (app / "src" / "_index.yaml").write_text(
        'version: "1.0"\nnamespace: w\nentries:\n'
        "  - {name: c, kind: temporal.client, address: 127.0.0.1:7233}\n"
        "  - {name: wk, kind: temporal.worker, client: c, task_queue: q}\n"
        "  - {name: wf, kind: workflow.lua, source: 'return {main = function() end}', modules: [logger, registry],\n"
        "     meta: {temporal: {workflow: {worker: wk}}}}\n"
    )
    text = "\n".join(str(p) for p in check_app(app))
    assert "module 'logger' is not allowed in a workflow" in text
    assert "module 'registry' is not allowed in a workflow" in text
