"""Registry loader: validation of each entry kind's fields, and structural errors of files."""

from __future__ import annotations

from pathlib import Path

import pytest

from duralua.durations import MILLISECOND, SECOND
from duralua.errors import ConfigErrors
from duralua.registry import (
    WORKFLOW_MODULES,
    Lifecycle,
)

from .registry_support import errors, line_of, load, one_error

# ---------------------------------------------------------------------------------------------
# Validation, one case per rule
# ---------------------------------------------------------------------------------------------

BASE = """\
namespace: app
entries:
  - {name: client, kind: temporal.client, address: "localhost:7233"}
  - {name: worker, kind: temporal.worker, client: client, task_queue: q}
  - {name: host, kind: process.host}
  - {name: proc, kind: process.lua, source: "return 1"}
  - {name: fn, kind: function.lua, source: "return 1", method: main}
  - {name: api, kind: http.service, addr: ":8080"}
  - {name: router, kind: http.router, meta: {server: api}}
  - name: bad
"""

VALIDATION_CASES = [
    ("kind: function.lua\n    method: main", "source is required"),
    ('kind: function.lua\n    source: "return 1"', "method is required"),
    ("kind: function.lua\n    method: main\n    source: [1]", "source must be a string"),
    (
        'kind: function.lua\n    method: main\n    source: "x"\n    pool: {type: huge}',
        "pool.type must be one of",
    ),
    ("kind: library.lua", "source is required"),
    ('kind: process.lua\n    source: "x"\n    modules: [app:lib]', "contains a colon"),
    ('kind: process.lua\n    source: "x"\n    imports: [a]', "imports must be a mapping"),
    (
        'kind: workflow.lua\n    source: "x"\n    modules: [time, http_client]',
        "module 'http_client' is not allowed",
    ),
    (
        'kind: workflow.lua\n    source: "x"\n    meta: {temporal: {workflow: {worker: client}}}',
        "expected a temporal.worker",
    ),
    ("kind: temporal.client", "address is required"),
    ('kind: temporal.client\n    address: "h:1"\n    auth: {type: token}', "auth.type must be one of"),
    (
        'kind: temporal.client\n    address: "h:1"\n    auth: {type: api_key, api_key: a, api_key_file: f}',
        "exactly one of",
    ),
    ('kind: temporal.client\n    address: "h:1"\n    auth: {type: api_key}', "got none"),
    (
        'kind: temporal.client\n    address: "h:1"\n    auth: {type: mtls, cert_file: c}',
        "auth.type mtls (key)",
    ),
    (
        'kind: temporal.client\n    address: "h:1"\n    tls: {insecure_skip_verify: true, server_name: s}',
        "cannot be used together",
    ),
    ('kind: temporal.client\n    address: "h:1"\n    connection_timeout: 10 seconds', "connection_timeout"),
    ("kind: temporal.worker\n    task_queue: q", "client is required"),
    ("kind: temporal.worker\n    client: client", "task_queue is required"),
    (
        "kind: temporal.worker\n    client: client\n    task_queue: q\n"
        "    worker_options: {max_concurrent_workflow_task_pollers: 1}",
        "max_concurrent_workflow_task_pollers must not be 1",
    ),
    (
        "kind: temporal.worker\n    client: client\n    task_queue: q\n"
        "    worker_options: {worker_activities_per_second: -1}",
        "worker_activities_per_second must not be negative",
    ),
    (
        "kind: temporal.worker\n    client: client\n    task_queue: q\n"
        "    worker_options: {disable_workflow_worker: true, local_activity_worker_only: true}",
        "cannot both be true",
    ),
    ("kind: process.service\n    host: host", "process is required"),
    ("kind: process.service\n    process: proc", "host is required"),
    ("kind: process.service\n    process: proc\n    host: host\n    input: {a: 1}", "input must be a list"),
    ("kind: process.host\n    host: {workers: 0}", "host.workers must be >= 1"),
    ("kind: http.service", "addr is required"),
    ("kind: http.router", "meta.server is required"),
    ("kind: http.endpoint\n    method: GET\n    path: /x\n    func: fn", "meta.router is required"),
    (
        "kind: http.endpoint\n    meta: {router: router}\n    method: FETCH\n    path: /x\n    func: fn",
        "method must be one of",
    ),
    (
        "kind: http.endpoint\n    meta: {router: router}\n    method: GET\n    path: x\n    func: fn",
        "path must start with /",
    ),
    ("kind: http.endpoint\n    meta: {router: router}\n    method: GET\n    path: /x", "func is required"),
    ("kind: terminal.host\n    hide_logs: maybe", "hide_logs must be true or false"),
    ("kind: process.host\n    lifecycle: {start_timeout: 3d}", "lifecycle.start_timeout"),
    ("kind: process.host\n    lifecycle: {restart: {max_attempts: -1}}", "lifecycle.restart.max_attempts"),
    ("kind: process.host\n    lifecycle: {startup: sometimes}", "lifecycle.startup must be"),
    ("kind: process.host\n    lifecycle: {requires: [nothing]}", "no entry app:nothing"),
]


@pytest.mark.parametrize(("body", "expected"), VALIDATION_CASES)
def test_validation_error(tmp_path: Path, body: str, expected: str) -> None:
    text = BASE + "    " + body + "\n"
    problem = one_error(tmp_path, {"_index.yaml": text})
    assert expected in problem.message
    start = line_of(text, "name: bad")
    loc = problem.location
    assert (loc.file, loc.entry) == ("src/_index.yaml", "app:bad")
    assert loc.line is not None and loc.line >= start
    assert f"src/_index.yaml:{loc.line} entry app:bad: " in str(problem)


def test_field_errors_point_at_the_field_line(tmp_path: Path) -> None:
    text = BASE + "    kind: temporal.worker\n    client: client\n    task_queue: q\n    worker_options:\n"
    text += "      max_concurrent_workflow_task_pollers: 1\n"
    problem = one_error(tmp_path, {"_index.yaml": text})
    assert problem.location.line == line_of(text, "worker_options:")


def test_workflow_module_error_lists_allowed_modules(tmp_path: Path) -> None:
    text = BASE + '    kind: workflow.lua\n    source: "x"\n    modules: [channel]\n'
    problem = one_error(tmp_path, {"_index.yaml": text})
    for module in WORKFLOW_MODULES:
        assert module in problem.message
    assert "channel global" in problem.message


def test_all_workflow_modules_are_accepted(tmp_path: Path) -> None:
    modules = ", ".join(sorted(WORKFLOW_MODULES))
    reg = load(
        tmp_path,
        {"_index.yaml": BASE + f'    kind: workflow.lua\n    source: "x"\n    modules: [{modules}]\n'},
    )
    assert set(reg.get("app:bad").modules) == WORKFLOW_MODULES


def test_lifecycle_defaults_and_values(tmp_path: Path) -> None:
    text = BASE + (
        "    kind: process.host\n    lifecycle:\n      auto_start: true\n      start_timeout: 1m30s\n"
        "      stop_timeout: 250\n      startup: optional\n      security: {actor: {id: x}}\n"
        "      restart: {initial_delay: 2s, max_delay: 1m, backoff_factor: 1.5, jitter: 0, max_attempts: 3}\n"
    )
    reg = load(tmp_path, {"_index.yaml": text})
    lc = reg.get("app:bad").lifecycle
    assert lc.auto_start is True
    assert lc.start_timeout_ns == 90 * SECOND
    assert lc.stop_timeout_ns == 250 * MILLISECOND  # bare numbers are milliseconds
    assert lc.stable_threshold_ns == 5 * SECOND
    assert lc.startup == "optional"
    assert lc.security == {"actor": {"id": "x"}}
    assert (lc.restart.initial_delay_ns, lc.restart.max_delay_ns) == (2 * SECOND, 60 * SECOND)
    assert (lc.restart.backoff_factor, lc.restart.jitter, lc.restart.max_attempts) == (1.5, 0.0, 3)
    assert reg.get("app:host").lifecycle == Lifecycle()
    assert reg.get("app:host").lifecycle.restart.max_delay_ns == 90 * SECOND


# ---------------------------------------------------------------------------------------------
# Structural errors
# ---------------------------------------------------------------------------------------------


def test_yaml_syntax_error_has_file_and_line(tmp_path: Path) -> None:
    text = "namespace: a\nentries:\n  - name: x\n    kind: [unclosed\n  - name: y\n"
    problem = one_error(tmp_path, {"sub/_index.yaml": text})
    assert problem.location.file == "src/sub/_index.yaml"
    assert problem.location.line in (4, 5)
    assert "invalid YAML" in problem.message
    assert str(problem).startswith(f"src/sub/_index.yaml:{problem.location.line}: ")


def test_json_syntax_error_has_file_and_line(tmp_path: Path) -> None:
    problem = one_error(tmp_path, {"defs.json": '{\n  "namespace": "a",\n  "entries": [,]\n}'})
    assert (problem.location.file, problem.location.line) == ("src/defs.json", 3)


def test_duplicate_ids_name_both_locations(tmp_path: Path) -> None:
    first = "namespace: a\nentries:\n  - {name: x, kind: process.host}\n"
    second = "namespace: a\n\nentries:\n  - {name: y, kind: process.host}\n  - {name: x, kind: process.host}\n"
    problem = one_error(tmp_path, {"one.yaml": first, "two.yaml": second})
    assert "duplicate entry id a:x" in problem.message
    assert "src/one.yaml:3" in problem.message
    assert (problem.location.file, problem.location.line, problem.location.entry) == (
        "src/two.yaml",
        5,
        "a:x",
    )


def test_missing_kind_and_name(tmp_path: Path) -> None:
    text = "namespace: a\nentries:\n  - {name: nokind}\n  - {kind: process.host}\n  - 42\n"
    found = errors(tmp_path, {"_index.yaml": text})
    by_line = {p.location.line: p for p in found}
    assert set(by_line) == {3, 4, 5}
    assert "no `kind`" in by_line[3].message and by_line[3].location.entry == "a:nokind"
    assert "no `name`" in by_line[4].message
    assert "must be a mapping" in by_line[5].message
    assert all(p.location.file == "src/_index.yaml" for p in found)


def test_namespace_without_entries(tmp_path: Path) -> None:
    problem = one_error(tmp_path, {"_index.yaml": "# header\nnamespace: a\nversion: '1.0'\n"})
    assert "neither an `entries` list nor a single entry" in problem.message
    assert (problem.location.file, problem.location.line) == ("src/_index.yaml", 2)


def test_bad_namespace_and_name(tmp_path: Path) -> None:
    found = errors(
        tmp_path,
        {
            "a.yaml": "namespace: 'x:y'\nentries: []\n",
            "b.yaml": "namespace: b\nentries:\n  - {name: 'p:q', kind: process.host}\n",
        },
    )
    assert ["invalid namespace" in p.message or "invalid entry name" in p.message for p in found] == [
        True,
        True,
    ]


def test_problems_are_collected_across_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors) as info:
        load(
            tmp_path,
            {
                "a.yaml": "namespace: a\nentries:\n  - {name: f, kind: function.lua, source: x}\n",
                "b.yaml": "namespace: b\nentries:\n  - {name: c, kind: temporal.client}\n",
                "c.yaml": "namespace: c\nentries: [{name: z, kind: magic.thing}]\n",
            },
        )
    problems = info.value.problems
    assert [(p.location.file, p.severity) for p in problems] == [
        ("src/a.yaml", "error"),
        ("src/b.yaml", "error"),
        ("src/c.yaml", "warning"),
    ]
    assert "(and 1 more)" in str(info.value)


def test_unknown_kind_is_a_warning(tmp_path: Path) -> None:
    reg = load(tmp_path, {"_index.yaml": "namespace: a\nentries:\n  - {name: db, kind: db.sql.sqlite, file: x}\n"})
    assert reg.get("a:db").data == {"file": "x"}
    [warning] = reg.problems
    assert warning.severity == "warning"
    assert warning.message == "kind db.sql.sqlite is not supported yet; entry loaded but ignored"
    assert (warning.location.file, warning.location.line, warning.location.entry) == (
        "src/_index.yaml",
        3,
        "a:db",
    )


def test_env_kinds_are_served_not_warned_about(tmp_path: Path) -> None:
    files = {"_index.yaml": "namespace: a\nentries:\n  - {name: mem, kind: env.storage.memory}\n"
             "  - {name: port, kind: env.variable, storage: mem, default: '8080'}\n"}  # fmt: skip
    assert load(tmp_path, files).problems == []
