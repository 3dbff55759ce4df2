"""The Python API's docstring examples run (issue 11, item 6), and every command's ``--help``
reads like a CLI's (item 3): no Python types as placeholders, no literal Markdown backquotes,
no text swallowed as Rich markup."""

from __future__ import annotations

import doctest
import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from duralua.cli.helpfmt import tidy
from duralua.cli.main import app as cli_app

REPO = Path(__file__).resolve().parents[2]
DOCTESTED = ["duralua.app", "duralua.testing"]


@pytest.mark.parametrize("name", DOCTESTED)
def test_docstring_examples_run(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the examples name examples/shop, as the README does
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, result


def commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in sorted(getattr(group, "commands", {}).items()):
        yield from commands(sub, (*path, name))


COMMAND = tidy(typer.main.get_command(cli_app))
PATHS = list(commands(COMMAND))


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "duralua")
def test_help_reads_like_a_cli(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as exit_:
        COMMAND.main([*path, "--help"], prog_name="duralua")
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "Usage: duralua" in text, text
    assert not re.search(r"<(bool|str|int|float|path|list\[.*?\]|float range|int range)>", text), text
    assert "`" not in text, text
    assert not re.search(r"\{[a-z_]+\}", text), text  # Typer's {argument} in the usage line
    assert "--no-wait" not in text
    if path == ("run",):
        assert "duralua[otel]" in text  # was swallowed as markup
        assert "--engine" in text and "embedded|temporal" in text


def test_every_workflow_command_takes_the_engine_options() -> None:
    workflow = COMMAND.commands["workflow"]
    for name, sub in workflow.commands.items():
        opts = {o for p in sub.params for o in getattr(p, "opts", [])}
        assert "--engine" in opts, name
        if name != "prune":
            assert {"--address", "--namespace"} <= opts, name
