"""``duralua check`` as a linter (issue 11, item 5), through the real binary: each case is
reported with file:line, errors exit 1, warnings alone exit 0."""

from __future__ import annotations

from pathlib import Path

from .cli_support import assert_no_traceback, duralua_cli, json_out

LOCK = "directories:\n  src: ./src\n"

LINT_APP = {
    "wippy.lock": LOCK,
    "src/_index.yaml": """\
version: "1.0"
namespace: app
entries:
  - {name: client, kind: temporal.client, address: "127.0.0.1:7233"}
  - {name: worker, kind: temporal.worker, client: client, task_queue: q}
  - name: typo_kind
    kind: funtion.lua
    source: file://shared.lua
  - name: typo_key
    kind: function.lua
    source: file://ok.lua
    method: main
    modlues: [json]
  - name: odd_key
    kind: function.lua
    source: file://ok.lua
    method: main
    colour: blue
  - name: no_worker
    kind: workflow.lua
    source: file://ok.lua
  - name: bad_module
    kind: function.lua
    source: file://ok.lua
    method: main
    modules: [jsn]
  - name: wippy_module
    kind: function.lua
    source: file://ok.lua
    method: main
    modules: [sql]
  - name: wf_module
    kind: workflow.lua
    source: file://ok.lua
    modules: [http_client]
    meta: {temporal: {workflow: {worker: worker}}}
  - {name: a, kind: library.lua, source: file://ok.lua, imports: {b: app:b}}
  - {name: b, kind: library.lua, source: file://ok.lua, imports: {a: app:a}}
  - {name: one, kind: function.lua, source: file://shared.lua, method: one}
  - {name: two, kind: function.lua, source: file://shared.lua, method: two}
  - {name: three, kind: function.lua, source: file://shared.lua, method: three}
  - {name: api, kind: http.service, addr: ":0"}
  - {name: static, kind: http.static, meta: {server: api}}
""",
    "src/ok.lua": "local function main() return 1 end\nreturn {main = main}\n",
    "src/shared.lua": "local function one() return 1 end\nlocal x = = 2\nreturn {one = one, two = one, three = one}\n",
}

# (file, line, severity, fragment) of every problem of LINT_APP
EXPECTED = [
    ("src/_index.yaml", 7, "error", "unknown kind funtion.lua (did you mean function.lua?)"),
    ("src/_index.yaml", 13, "error", "unknown key 'modlues' for a function.lua entry (did you mean modules?)"),
    ("src/_index.yaml", 18, "warning", "unknown key 'colour' for a function.lua entry; it is ignored"),
    ("src/_index.yaml", 19, "warning", "workflow app:no_worker names no worker"),
    ("src/_index.yaml", 26, "error", "modules: no module 'jsn' (did you mean json?)"),
    ("src/_index.yaml", 31, "warning", "does not provide the Wippy module 'sql'"),
    ("src/_index.yaml", 35, "error", "module 'http_client' is not allowed in a workflow"),
    ("src/_index.yaml", 37, "error", "import cycle"),
    ("src/_index.yaml", 42, "warning", "http.service app:api has no endpoints"),
    ("src/_index.yaml", 43, "warning", "kind http.static is not supported yet"),
    ("src/shared.lua", 2, "error", "unexpected symbol near '='"),
]


def write_app(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_every_case_with_file_and_line(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", LINT_APP)
    proc = duralua_cli("check", app, "--json")
    assert proc.returncode == 1, proc.stdout
    report = json_out(proc)
    assert report["ok"] is False
    problems = report["problems"]
    for file, line, severity, fragment in EXPECTED:
        found = [p for p in problems if fragment in p["message"]]
        assert len(found) >= 1, (fragment, problems)
        assert (found[0]["file"], found[0]["line"], found[0]["severity"]) == (file, line, severity), found[0]
    assert len(problems) == len(EXPECTED), [p["message"] for p in problems]  # each case once
    shared = [p for p in problems if p["file"] == "src/shared.lua"]
    assert len(shared) == 1 and "also in the code of" in shared[0]["message"]

    text = duralua_cli("check", app)
    assert text.returncode == 1
    assert_no_traceback(text)
    assert "error src/_index.yaml:7 entry app:typo_kind: unknown kind funtion.lua" in text.stderr
    assert f"{sum(1 for p in problems if p['severity'] == 'error')} error(s)" in text.stderr


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    app = write_app(tmp_path / "app", {
        "wippy.lock": LOCK,
        "src/_index.yaml": 'version: "1.0"\nnamespace: app\nentries:\n'
                           "  - {name: f, kind: function.lua, source: file://ok.lua, method: main, colour: blue}\n",
        "src/ok.lua": LINT_APP["src/ok.lua"],
    })  # fmt: skip
    proc = duralua_cli("check", app)
    assert proc.returncode == 0, proc.stderr
    assert "warning src/_index.yaml:4 entry app:f: unknown key 'colour'" in proc.stderr
    assert "ok" in proc.stdout and "1 warning(s)" in proc.stdout


def test_one_yaml_syntax_error_is_one_error(tmp_path: Path) -> None:
    # The broken file defines the worker every workflow of the other file names.
    app = write_app(tmp_path / "app", {
        "wippy.lock": LOCK,
        "src/a.yaml": 'version: "1.0"\nnamespace: app\nentries:\n  - name: worker\n    kind: temporal.worker\n'
                      "   client: client\n",
        "src/b.yaml": 'version: "1.0"\nnamespace: app\nentries:\n'
                      + "".join(f"  - {{name: w{i}, kind: workflow.lua, source: file://ok.lua,"
                                " meta: {temporal: {workflow: {worker: worker}}}}\n" for i in range(5)),
        "src/ok.lua": LINT_APP["src/ok.lua"],
    })  # fmt: skip
    proc = duralua_cli("check", app, "--json")
    assert proc.returncode == 1
    problems = json_out(proc)["problems"]
    assert len(problems) == 1, problems
    assert problems[0]["file"] == "src/a.yaml" and problems[0]["line"] == 6
    assert problems[0]["message"].startswith("invalid YAML")


def test_a_directory_that_is_not_an_app_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    (junk / "deep" / "er").mkdir(parents=True)
    (junk / "deep" / "er" / "x.yaml").write_text("namespace: [broken\n")
    (junk / "notes.json").write_text('{"a": 1}')
    proc = duralua_cli("check", junk)
    assert proc.returncode == 1
    assert_no_traceback(proc)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "is not an app: it has no wippy.lock" in lines[0], proc.stderr
    proc = duralua_cli("check", cwd=junk)
    assert proc.returncode == 1 and "is not an app" in proc.stderr
    # The other commands refuse the same way instead of scanning.
    proc = duralua_cli("call", "app:x", cwd=junk)
    assert proc.returncode == 1 and "is not an app" in proc.stderr
    # A src tree without wippy.lock is an app when it has definition files at its top level.
    write_app(tmp_path / "src_only", {"_index.yaml": 'version: "1.0"\nnamespace: s\nentries: []\n'})
    assert duralua_cli("check", tmp_path / "src_only").returncode == 0
