"""The cost of one function call: from Python into Lua, from Lua to Lua, from Lua to Python.

    python bench/functions.py                   # table + target PASS/FAIL
    python bench/functions.py --json            # figures as JSON on stdout (table on stderr)
    python bench/functions.py -n 50000 -r 7     # iterations per round, rounds

Measured on ``bench/apps/functions`` (``bench:noop`` returns its argument; ``bench:loop``
calls a target ``n`` times with ``funcs.call``), with the default sandbox limits on:

* ``python -> lua``: ``App.call("bench:noop", i)``, one call per iteration;
* ``python -> python``: ``App.call`` of a Python callable registered with ``@app.function``;
* ``lua -> lua``: one ``App.call("bench:loop", "bench:noop", n)``, divided by ``n``;
* ``lua -> python``: the same loop calling the Python callable ``bench:py_noop``.

Each figure is the median over the rounds of (round time / calls), in microseconds per call.
The target (a call from Python below 20 µs) is reported as PASS/FAIL; benchmarks print,
they never fail on a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import machine_facts, now, table

HERE = Path(__file__).resolve().parent
APP_DIR = HERE / "apps" / "functions"
TARGET_US = 20.0  # one call from Python, microseconds


def build_app() -> Any:
    from duralua import App

    app = App(APP_DIR, log=None)

    @app.function("bench:py_noop")
    def py_noop(x: Any) -> Any:
        return x

    return app


def per_call_us(run_round: Callable[[], int], rounds: int) -> dict[str, float]:
    """Run ``rounds`` rounds (each returns how many calls it made); µs per call."""
    samples = []
    for _ in range(rounds):
        start = now()
        calls = run_round()
        samples.append((now() - start) * 1e6 / calls)
    return {"median_us": statistics.median(samples), "min_us": min(samples), "max_us": max(samples)}


def measure(iterations: int, rounds: int) -> dict[str, Any]:
    app = build_app()
    call = app.call

    def python_to(target: str) -> Callable[[], int]:
        def run_round() -> int:
            for i in range(iterations):
                call(target, i)
            return iterations

        return run_round

    def lua_to(target: str) -> Callable[[], int]:
        def run_round() -> int:
            result = call("bench:loop", target, iterations)
            assert result == iterations, result
            return iterations

        return run_round

    cases = {
        "python -> lua (App.call)": python_to("bench:noop"),
        "python -> python (App.call)": python_to("bench:py_noop"),
        "lua -> lua (funcs.call)": lua_to("bench:noop"),
        "lua -> python (funcs.call)": lua_to("bench:py_noop"),
    }
    # warm up: Lua states created, code compiled, caches filled
    for run_round in cases.values():
        for _ in range(2):
            app.call("bench:noop", 0)
        run_round()
    results = {name: per_call_us(run_round, rounds) for name, run_round in cases.items()}
    from_python = results["python -> lua (App.call)"]["median_us"]
    return {
        "iterations": iterations,
        "rounds": rounds,
        "results": results,
        "target": {
            "python_call_us_below": TARGET_US,
            "measured_us": from_python,
            "pass": from_python < TARGET_US,
        },
        "machine": machine_facts(["duralua", "lupa"]),
    }


def report(data: dict[str, Any]) -> str:
    rows = [(name, r["median_us"], r["min_us"], r["max_us"]) for name, r in data["results"].items()]
    target = data["target"]
    verdict = "PASS" if target["pass"] else "FAIL"
    lines = [
        f"function call cost ({data['iterations']} calls per round, median of {data['rounds']} rounds)",
        "",
        table(["call", "µs/call (median)", "min", "max"], rows),
        "",
        f"target: a call from Python < {TARGET_US:g} µs -> measured {target['measured_us']:.2f} µs: {verdict}",
        f"machine: {data['machine']['cpu_model']}, Python {data['machine']['python']}, "
        f"lupa {data['machine']['packages'].get('lupa')}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--iterations", type=int, default=20_000, help="calls per round (default 20000)")
    parser.add_argument("-r", "--rounds", type=int, default=5, help="rounds; the median is reported (default 5)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.rounds < 1:
        parser.error("--iterations and --rounds must be positive")
    data = measure(args.iterations, args.rounds)
    text = report(data)
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
