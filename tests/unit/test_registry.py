"""Registry loader: definition files on disk -> validated entries, or collected problems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from duralua.errors import ConfigError, Problem
from duralua.registry import (
    activity_is_local,
    activity_worker,
    load_app,
    load_documents,
    parse_id,
    resolve_env,
    workflow_type_name,
    workflow_worker,
)

from .registry_support import errors, line_of, load, make_app, one_error

# ---------------------------------------------------------------------------------------------
# File forms
# ---------------------------------------------------------------------------------------------

ENTRIES_FILE = """\
version: "1.0"
namespace: shop.orders
meta:
  team: billing
  tags: [a]
entries:
  - name: place_order
    kind: workflow.lua
    meta: {tags: [b], comment: x}
    source: "return function() end"
    modules: [funcs, time]

  # a comment between entries
  - {name: get_user.endpoint, kind: registry.entry, data: {any: value}, ignored: 1}
"""


def test_entries_form_ids_lines_and_meta_merge(tmp_path: Path) -> None:
    reg = load(tmp_path, {"_index.yaml": ENTRIES_FILE})
    assert list(reg.entries) == ["shop.orders:place_order", "shop.orders:get_user.endpoint"]
    wf = reg.get("shop.orders:place_order")
    assert (wf.namespace, wf.name, wf.kind) == ("shop.orders", "place_order", "workflow.lua")
    assert wf.file == "src/_index.yaml"
    assert wf.line == line_of(ENTRIES_FILE, "name: place_order")
    # Shallow merge: the entry's ``tags`` replaces the file's, other file keys are kept.
    assert wf.meta == {"team": "billing", "tags": ["b"], "comment": "x"}
    assert wf.data == {"source": "return function() end", "modules": ["funcs", "time"]}
    assert wf.modules == ["funcs", "time"]
    raw = reg.get("shop.orders:get_user.endpoint")
    assert raw.line == line_of(ENTRIES_FILE, "get_user.endpoint")
    # An explicit ``data:`` key is the whole data; sibling keys are not.
    assert raw.data == {"any": "value"}
    assert raw.meta == {"team": "billing", "tags": ["a"]}


def test_file_meta_is_not_shared_between_entries(tmp_path: Path) -> None:
    reg = load(
        tmp_path,
        {
            "_index.yaml": """\
            namespace: app
            meta: {temporal: {activity: {worker: w}}}
            entries:
              - {name: c, kind: temporal.client, address: "x:1"}
              - {name: w, kind: temporal.worker, client: c, task_queue: q}
              - {name: f1, kind: function.lua, source: "return 1", method: m}
              - {name: f2, kind: function.lua, source: "return 1", method: m}
            """
        },
    )
    f1, f2 = reg.get("app:f1"), reg.get("app:f2")
    f1.meta["temporal"]["activity"]["worker"] = "changed"
    assert f2.meta["temporal"]["activity"]["worker"] == "app:w"


SINGLE_FILE = """\
# a single-entry file
version: "1.0"
namespace: app.single
requirements: [x]
name: helper
kind: library.lua
meta: {description: d}
source: "return {}"
modules: [json]
"""


def test_single_entry_form(tmp_path: Path) -> None:
    reg = load(tmp_path, {"lib/helper.yaml": SINGLE_FILE})
    entry = reg.get("app.single:helper")
    assert entry.kind == "library.lua"
    assert entry.data == {"source": "return {}", "modules": ["json"]}
    assert entry.meta == {"description": "d"}
    assert entry.file == "src/lib/helper.yaml"
    assert entry.line == line_of(SINGLE_FILE, "name: helper")
    assert entry.method is None


def test_json_definition_file(tmp_path: Path) -> None:
    doc = {
        "namespace": "j",
        "entries": [
            {"name": "a", "kind": "registry.entry", "data": {"x": 1}},
            {"name": "b", "kind": "process.host"},
        ],
    }
    text = json.dumps(doc, indent=2)
    reg = load(tmp_path, {"defs.json": text})
    assert reg.get("j:a").data == {"x": 1}
    assert reg.get("j:b").file == "src/defs.json"
    assert reg.get("j:b").line == line_of(text, '"name": "b"') - 1  # the object's "{" line


def test_non_definition_files_are_skipped(tmp_path: Path) -> None:
    reg = load(
        tmp_path,
        {
            "config.yaml": "logger: {level: debug}\n",
            "list.yaml": "- 1\n- 2\n",
            "empty.yml": "",
            "package.json": '{"name": "x"}',
            "notes.txt": "namespace: nope\n[",
            "_index.yaml": "namespace: a\nentries: []\n",
        },
    )
    assert len(reg) == 0
    assert reg.problems == []


def test_yaml_scalars_follow_yaml_1_2(tmp_path: Path) -> None:
    text = "namespace: a\nentries:\n  - {name: r, kind: registry.entry, data: {v: on, d: 2024-01-02}}\n"
    reg = load(tmp_path, {"_index.yaml": text})
    assert reg.get("a:r").data == {"v": "on", "d": "2024-01-02"}


def test_load_documents_in_memory() -> None:
    reg = load_documents(
        {
            "app/_index.yaml": "namespace: app\nentries:\n  - {name: f, kind: function.lua, "
            "source: file://f.lua, method: run}\n",
            "app/f.lua": "return {run = function() return 1 end}\n",
        },
        root="/virtual",
        env={},
    )
    entry = reg.get("app:f")
    assert entry.source == "return {run = function() return 1 end}\n"
    assert entry.source_file == "app/f.lua"
    assert entry.file == "app/_index.yaml"
    assert reg.root == Path("/virtual")


# ---------------------------------------------------------------------------------------------
# Layout: lock file, .wippy.yaml, skipped directories
# ---------------------------------------------------------------------------------------------

HOST = "namespace: {ns}\nentries:\n  - {{name: host, kind: process.host}}\n"


def test_lock_file_points_at_src_and_runtime_config_names_node(tmp_path: Path) -> None:
    (tmp_path / "wippy.lock").write_text("directories:\n  src: ./defs\n")
    (tmp_path / ".wippy.yaml").write_text("relay:\n  node_name: node-7\nlogger: {}\n")
    (tmp_path / "defs").mkdir()
    (tmp_path / "defs" / "_index.yaml").write_text(HOST.format(ns="a"))
    (tmp_path / "outside.yaml").write_text(HOST.format(ns="outside"))
    reg = load_app(tmp_path, env={})
    assert list(reg.entries) == ["a:host"]
    assert reg.node_name == "node-7"
    assert reg.src == tmp_path / "defs"
    assert reg.root == tmp_path
    assert reg.get("a:host").file == "defs/_index.yaml"


def test_without_lock_file_the_directory_is_src(tmp_path: Path) -> None:
    make_app(tmp_path, {"x/_index.yaml": HOST.format(ns="a")}, lock=None)
    reg = load_app(tmp_path, env={})
    assert reg.node_name == "local"
    assert reg.get("a:host").file == "x/_index.yaml"


def test_missing_app_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_app(tmp_path / "nope")
    (tmp_path / "wippy.lock").write_text("directories: {src: ./missing}\n")
    with pytest.raises(ConfigError, match="src directory"):
        load_app(tmp_path)


def test_skipped_directories(tmp_path: Path) -> None:
    files = {
        "_index.yaml": HOST.format(ns="root"),
        "node_modules/pkg/_index.yaml": HOST.format(ns="nm"),
        "tests/temporal/_index.yaml": HOST.format(ns="tt"),
        "slow/_index.yaml": HOST.format(ns="slow"),
        "kept/_index.yaml": HOST.format(ns="kept"),
    }
    reg = load(tmp_path, files, env={"SKIP_TEST_DIRS": "temporal, slow"})
    assert sorted(reg.entries) == ["kept:host", "root:host"]
    reg = load_app(tmp_path, env={})
    assert sorted(reg.entries) == ["kept:host", "root:host", "slow:host", "tt:host"]


# ---------------------------------------------------------------------------------------------
# file:// interpolation
# ---------------------------------------------------------------------------------------------


def test_file_interpolation_relative_absolute_and_nested(tmp_path: Path) -> None:
    reg = load(
        tmp_path,
        {
            "shop/_index.yaml": """\
            namespace: shop
            entries:
              - name: f
                kind: function.lua
                source: file://code/f.lua
                method: main
              - name: g
                kind: function.lua
                source: file:///common/g.lua
                method: main
              - name: cfg
                kind: registry.entry
                data:
                  templates: [file://./code/../t.txt, plain]
                  nested: {x: "file:///shop/t.txt"}
            """,
            "shop/code/f.lua": "return function() return 'f' end\n",
            "common/g.lua": "return function() return 'g' end\n",
            "shop/t.txt": "template",
        },
    )
    f = reg.get("shop:f")
    assert f.source == "return function() return 'f' end\n"
    assert (f.source_file, f.source_line) == ("src/shop/code/f.lua", 1)
    assert reg.get("shop:g").source_file == "src/common/g.lua"
    cfg = reg.get("shop:cfg")
    assert cfg.data == {"templates": ["template", "plain"], "nested": {"x": "template"}}


def test_inline_source_line(tmp_path: Path) -> None:
    text = """\
    namespace: a
    entries:
      - name: block
        kind: function.lua
        method: main
        source: |
          return function()
            return 1
          end
      - {name: flow, kind: function.lua, method: main, source: "return 1"}
    """
    reg = load(tmp_path, {"_index.yaml": text})
    block = reg.get("a:block")
    assert block.source_file is None
    assert block.source_line == line_of(text, "return function()")
    assert reg.get("a:flow").source_line == line_of(text, "name: flow")


def _file_ref_error(tmp_path: Path, ref: str) -> Problem:
    text = f"""\
    namespace: a
    entries:
      - name: ok
        kind: process.host
      - name: bad
        kind: function.lua
        method: main
        source: {ref}
    """
    problem = one_error(tmp_path, {"sub/_index.yaml": text, "sub/exists.lua": "x"})
    assert problem.location.file == "src/sub/_index.yaml"
    assert problem.location.line == line_of(text, "source:")
    assert problem.location.entry == "a:bad"
    assert f"src/sub/_index.yaml:{line_of(text, 'source:')} entry a:bad" in str(problem)
    return problem


def test_file_reference_missing(tmp_path: Path) -> None:
    problem = _file_ref_error(tmp_path, "file://missing.lua")
    assert "src/sub/missing.lua" in problem.message
    assert "file not found" in problem.message


def test_file_reference_traversal(tmp_path: Path) -> None:
    (tmp_path / "secret.lua").write_text("x")
    problem = _file_ref_error(tmp_path, "file://../../secret.lua")
    assert "path traversal" in problem.message
    assert "../secret.lua" in problem.message


def test_file_reference_absolute_traversal(tmp_path: Path) -> None:
    assert "path traversal" in _file_ref_error(tmp_path, "file:///../x.lua").message


def test_file_reference_empty(tmp_path: Path) -> None:
    assert "empty path" in _file_ref_error(tmp_path, "file://").message


def test_file_reference_directory(tmp_path: Path) -> None:
    assert "is a directory" in _file_ref_error(tmp_path, "file:///sub").message


# ---------------------------------------------------------------------------------------------
# Environment placeholders
# ---------------------------------------------------------------------------------------------


def test_resolve_env() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert resolve_env("x${env:A}y${env:B|dflt}z", env) == "x1ydfltz"
    assert resolve_env("${env:EMPTY|d}", env) == ""
    assert resolve_env("${env:B|}", env) == ""
    assert resolve_env("no placeholder", env) == "no placeholder"
    with pytest.raises(ConfigError, match="environment variable B is not set"):
        resolve_env("${env:B}", env)


CLIENT_ENV = """\
namespace: t
entries:
  - name: client
    kind: temporal.client
    address: "${env:TEMPORAL_ADDRESS|localhost:7233}"
    auth:
      type: api_key
      api_key: "${env:API_KEY}"
    tls: {enabled: true, server_name: "${env:TLS_NAME|tls.local}"}
  - name: worker
    kind: temporal.worker
    client: client
    task_queue: q
    worker_options:
      build_id_env: BUILD
"""


def test_env_placeholders_in_credentials(tmp_path: Path) -> None:
    reg = load(tmp_path, {"_index.yaml": CLIENT_ENV}, env={"API_KEY": "secret", "BUILD": "b-42"})
    client = reg.get("t:client")
    assert client.data["address"] == "localhost:7233"
    assert client.data["auth"] == {"type": "api_key", "api_key": "secret"}
    assert client.data["tls"]["server_name"] == "tls.local"
    assert reg.get("t:worker").data["worker_options"] == {"build_id": "b-42"}


def test_unset_env_placeholder_names_entry_and_field(tmp_path: Path) -> None:
    found = errors(tmp_path, {"_index.yaml": CLIENT_ENV}, env={})
    messages = sorted(str(p) for p in found)
    assert len(found) == 2
    api, build = (next(p for p in found if f in p.message) for f in ("auth.api_key", "build_id_env"))
    assert api.location.entry == "t:client"
    assert api.location.line == line_of(CLIENT_ENV, "auth:")
    assert "environment variable API_KEY is not set" in api.message
    assert build.location.entry == "t:worker"
    assert "BUILD" in build.message
    assert all("src/_index.yaml:" in m for m in messages)


def test_legacy_api_key_env(tmp_path: Path) -> None:
    text = """\
    namespace: t
    entries:
      - {name: c, kind: temporal.client, address: "h:1", auth: {type: api_key, api_key_env: K}}
    """
    reg = load(tmp_path, {"_index.yaml": text}, env={"K": "from-env"})
    assert reg.get("t:c").data["auth"] == {"type": "api_key", "api_key": "from-env"}


# ---------------------------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------------------------

REFS = """\
namespace: shop
entries:
  - {name: client, kind: temporal.client, address: "h:1"}
  - name: worker
    kind: temporal.worker
    client: client
    task_queue: q
    lifecycle: {auto_start: true, depends_on: [client], requires: [shop:client, other:thing]}
  - name: act
    kind: function.lua
    source: "return 1"
    method: run
    meta:
      temporal: {activity: {worker: worker, local: true}}
      options: {"activity.start_to_close_timeout": "5s"}
  - name: wf
    kind: workflow.lua
    source: "return 1"
    modules: [funcs]
    imports: {helpers: lib, shared: other:lib}
    meta: {temporal: {workflow: {worker: worker, name: CustomName}}}
  - {name: lib, kind: library.lua, source: "return {}"}
  - {name: host, kind: process.host}
  - {name: proc, kind: process.lua, source: "return 1"}
  - {name: svc, kind: process.service, process: proc, host: host, input: [1, two]}
  - {name: api, kind: http.service, addr: ":8080"}
  - {name: router, kind: http.router, meta: {server: api}, prefix: /api}
  - {name: router2, kind: http.router, server: other:api}
  - {name: get_user.endpoint, kind: http.endpoint, meta: {router: router}, method: GET, path: /u, func: act}
"""
OTHER = """\
namespace: other
entries:
  - {name: thing, kind: registry.entry}
  - {name: lib, kind: library.lua, source: "return {}", modules: [json]}
  - {name: api, kind: http.service, addr: ":9090"}
"""


def test_relative_references_are_resolved(tmp_path: Path) -> None:
    reg = load(tmp_path, {"shop.yaml": REFS, "other.yaml": OTHER})
    worker = reg.get("shop:worker")
    assert worker.data["client"] == "shop:client"
    assert worker.lifecycle.requires == ("shop:client", "other:thing")
    assert worker.lifecycle.auto_start is True
    assert worker.data["lifecycle"]["depends_on"] == ["shop:client"]

    act = reg.get("shop:act")
    assert activity_worker(act) == "shop:worker"
    assert act.meta["temporal"]["activity"]["worker"] == "shop:worker"
    assert activity_is_local(act) is True
    assert act.meta_options == {"activity.start_to_close_timeout": "5s"}

    wf = reg.get("shop:wf")
    assert workflow_worker(wf) == "shop:worker"
    assert workflow_type_name(wf) == "CustomName"
    assert wf.imports == {"helpers": "shop:lib", "shared": "other:lib"}
    assert wf.method == "main"

    svc = reg.get("shop:svc")
    assert (svc.data["process"], svc.data["host"]) == ("shop:proc", "shop:host")
    assert reg.get("shop:router").meta["server"] == "shop:api"
    assert reg.get("shop:router2").data["server"] == "other:api"
    endpoint = reg.get("shop:get_user.endpoint")
    assert (endpoint.meta["router"], endpoint.data["func"]) == ("shop:router", "shop:act")


def test_registry_queries(tmp_path: Path) -> None:
    reg = load(tmp_path, {"shop.yaml": REFS, "other.yaml": OTHER})
    assert [e.id for e in reg.workers()] == ["shop:worker"]
    assert [e.id for e in reg.workflows_of("shop:worker")] == ["shop:wf"]
    assert [e.id for e in reg.activities_of("shop:worker")] == ["shop:act"]
    # Files load in path order: other.yaml before shop.yaml.
    assert [e.id for e in reg.by_kind("library.lua")] == ["other:lib", "shop:lib"]
    assert [e.id for e in reg.find("http.*", server="shop:api")] == ["shop:router"]
    assert [e.id for e in reg.find(temporal__workflow__name="CustomName")] == ["shop:wf"]
    assert reg.get("shop:proc").method == "main"
    assert "shop:wf" in reg
    with pytest.raises(ConfigError, match="no entry shop:wrkr") as info:
        reg.get("shop:wrkr")
    assert "did you mean shop:worker" in str(info.value)
    assert parse_id("a.b:c:d") == ("a.b", "c:d")
    assert parse_id("rel") == ("", "rel")


def _bad_ref(tmp_path: Path, old: str, new: str) -> Problem:
    assert old in REFS
    text = REFS.replace(old, new)
    problem = one_error(tmp_path, {"shop.yaml": text, "other.yaml": OTHER})
    assert problem.location.file == "src/shop.yaml"
    assert f"src/shop.yaml:{problem.location.line} entry " in str(problem)
    return problem


@pytest.mark.parametrize(
    ("old", "new", "entry", "expected"),
    [
        (
            "client: client",
            "client: clinet",
            "shop:worker",
            "client: no entry shop:clinet (did you mean shop:client?)",
        ),
        (
            "client: client",
            "client: act",
            "shop:worker",
            "shop:act is a function.lua, expected a temporal.client",
        ),
        (
            "{worker: worker, name",
            "{worker: act, name",
            "shop:wf",
            "meta.temporal.workflow.worker: shop:act is a",
        ),
        (
            "worker: worker, local",
            "worker: nope, local",
            "shop:act",
            "meta.temporal.activity.worker: no entry",
        ),
        ("helpers: lib", "helpers: nolib", "shop:wf", "imports.helpers: no entry shop:nolib"),
        ("helpers: lib", "helpers: client", "shop:wf", "expected a function.lua or library.lua"),
        ("other:thing", "other:nothing", "shop:worker", "lifecycle.requires: no entry other:nothing"),
        ("process: proc", "process: act", "shop:svc", "process: shop:act is a function.lua, expected"),
        ("host: host,", "host: worker,", "shop:svc", "expected a process.host or terminal.host"),
        ("func: act", "func: wf", "shop:get_user.endpoint", "func: shop:wf is a workflow.lua"),
        (
            "{router: router}",
            "{router: api}",
            "shop:get_user.endpoint",
            "meta.router: shop:api is a http.service",
        ),
        ("{server: api}", "{server: router2}", "shop:router", "meta.server: shop:router2 is a http.router"),
    ],
)
def test_bad_references(tmp_path: Path, old: str, new: str, entry: str, expected: str) -> None:
    problem = _bad_ref(tmp_path, old, new)
    assert problem.location.entry == entry
    assert expected in problem.message


def test_library_imported_by_workflow_is_checked_against_module_rule(tmp_path: Path) -> None:
    other = OTHER.replace("modules: [json]", "modules: [json, http_client]")
    reg = load(tmp_path, {"shop.yaml": REFS, "other.yaml": other})
    [warning] = reg.warnings
    assert (warning.location.entry, warning.location.file) == ("shop:wf", "src/shop.yaml")
    assert "library other:lib lists module 'http_client'" in warning.message


CYCLE = """\
namespace: app
entries:
  - name: a
    kind: library.lua
    source: "return {}"
    imports: {b: b}
  - name: b
    kind: library.lua
    source: "return {}"
    imports: {c: c, d: d}
  - name: c
    kind: library.lua
    source: "return {}"
    imports: {a: a}
  - {name: d, kind: library.lua, source: "return {}"}
  - name: self
    kind: function.lua
    source: "return 1"
    method: main
    imports: {me: self, d: d}
"""


def test_import_cycles_are_errors_naming_each_entry_and_line(tmp_path: Path) -> None:
    found = errors(tmp_path, {"app.yaml": CYCLE})
    assert len(found) == 2, [str(p) for p in found]
    loop, me = sorted(found, key=lambda p: p.location.entry or "")
    assert (loop.location.file, loop.location.line, loop.location.entry) == ("src/app.yaml", 6, "app:a")
    assert (
        "import cycle: app:a (src/app.yaml:6) imports app:b (src/app.yaml:10) imports app:c (src/app.yaml:14) "
        "imports app:a"
    ) in loop.message
    assert me.location.entry == "app:self"
    assert "app:self (src/app.yaml:20) imports itself" in me.message


def test_the_catalog_refuses_a_cycle_the_loader_did_not_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import duralua.registry.kinds as kinds
    from duralua.catalog import Catalog

    monkeypatch.setattr(kinds, "import_cycles", lambda entries: [])
    reg = load_documents({"app.yaml": CYCLE})
    catalog = Catalog(reg)
    with pytest.raises(ConfigError, match="import cycle: app:a imports app:b imports app:c imports app:a"):
        catalog.code_of("app:a")
    with pytest.raises(ConfigError, match="import cycle"):
        catalog.code_of("app:a")  # nothing half-resolved was cached
    assert catalog.code_of("app:d").imports == {}


def test_import_chains_without_a_cycle_load(tmp_path: Path) -> None:
    acyclic = CYCLE.replace("imports: {a: a}", "imports: {d: d}").replace("{me: self, d: d}", "{d: d}")
    reg = load(tmp_path, {"app.yaml": acyclic})
    assert reg.get("app:a").imports == {"b": "app:b"}
