"""``duralua test [filters…]``: run the app's ``meta.type: test`` entries (spec runtime-modules.md §10)
while the whole app is served, on a throw-away database by default."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.status import Status
from rich.text import Text

from ..runtime.testrunner import TestEntry, TestRunner, Verdict, discover
from .command_run import booted
from .common import AddressOpt, Ctx, DirOpt, EngineOpt, NamespaceOpt, err_console, on_temporal, out_console, say

DbOpt = Annotated[Path | None, typer.Option(help="Serve the app on this database (default: a throw-away one).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output (the verdict of every test).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show the runtime's log lines while tests run.")]


def test(
    filters: Annotated[
        list[str] | None, typer.Argument(help="Keep tests whose entry id contains one of these.")
    ] = None,
    directory: DirOpt = Path("."),
    db: DbOpt = None,
    engine: EngineOpt = "embedded",
    address: AddressOpt = None,
    namespace: NamespaceOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run the app's tests (entries with meta.type: test) while the app is served; exit 1 on a failure."""
    from ..app import App, stderr_log

    words = list(filters or [])
    if words and directory == Path(".") and Path(words[0]).is_dir():
        directory = Path(words.pop(0))  # `duralua test DIR [filters]`, like `duralua run DIR`
    filters = words
    ctx = Ctx(directory, db=db)
    app = App(ctx.root, log=stderr_log if verbose else None)
    tests = discover(app.registry, filters)
    if not tests:
        say("No tests match filter" if filters else "No tests found")
        raise typer.Exit(1 if os.environ.get("WIPPY_TEST_REQUIRE_CASES") == "1" else 0)
    temporal = on_temporal(engine)
    if temporal:
        from . import temporal_cmd

        temporal_cmd.require_temporal()
        temporal_cmd.Server(address, namespace).apply_to(app.registry)
    verdicts = asyncio.run(_run(app, tests, engine="temporal" if temporal else "embedded", db=db, quiet=as_json))
    failed = [v for v in verdicts if not v.passed]
    if as_json:
        print(json.dumps({"passed": len(verdicts) - len(failed), "failed": len(failed),
                          "tests": [v.to_json() for v in verdicts]}, indent=2, ensure_ascii=False))  # fmt: skip
    else:
        _summary(verdicts)
    raise typer.Exit(1 if failed else 0)


async def _run(app: Any, tests: list[TestEntry], *, engine: str, db: Path | None, quiet: bool) -> list[Verdict]:
    progress = _Progress(quiet)
    async with booted(app, engine=engine, db=db, notify=None if quiet else progress.note):
        runner = TestRunner(app.runtime, app.registry)
        try:
            return await runner.run(tests, on_start=progress.start, on_done=progress.done)
        finally:
            runner.close()
            progress.stop()


class _Progress:
    """A live line per test on a terminal; one line per finished test otherwise."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.status: Status | None = None
        self.suite = ""

    def note(self, text: str) -> None:
        if not self.quiet:
            err_console.print(Text(text, style="dim"))

    def start(self, t: TestEntry) -> None:
        if self.quiet:
            return
        if t.suite != self.suite:
            self.suite = t.suite
            self._print(Text.assemble(("suite ", "bold"), (t.suite, "bold")))
        if out_console.is_terminal:
            if self.status is None:
                self.status = out_console.status(Text(f"{t.suite} {t.name}"))
                self.status.start()
            else:
                self.status.update(Text(f"{t.suite} {t.name}"))

    def done(self, v: Verdict) -> None:
        if self.quiet:
            return
        mark = ("  PASS ", "green") if v.passed else ("  FAIL ", "red")
        cases = f" ({len(v.cases)} cases)" if v.cases else ""
        self._print(Text.assemble(mark, v.entry.name, (f"{cases} {v.duration_s * 1000:.0f} ms", "dim")))

    def _print(self, text: Text) -> None:
        out_console.print(text, soft_wrap=True)

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None


def _summary(verdicts: list[Verdict]) -> None:
    suites: dict[str, list[Verdict]] = {}
    for v in verdicts:
        suites.setdefault(v.entry.suite, []).append(v)
    out_console.print()
    for suite, items in suites.items():
        bad = sum(not v.passed for v in items)
        out_console.print(Text.assemble((suite, "bold"), f": {len(items) - bad} passed, {bad} failed"), soft_wrap=True)
    failed = [v for v in verdicts if not v.passed]
    if failed:
        out_console.print()
        out_console.print(Text("Failures:", style="bold red"))
        for v in failed:
            out_console.print(Text.assemble(("  " + v.entry.id, "red"), ": ", v.message or "failed"), soft_wrap=True)
    out_console.print()
    style = "red" if failed else "green"
    out_console.print(Text(f"{len(verdicts) - len(failed)} passed, {len(failed)} failed", style=style))
