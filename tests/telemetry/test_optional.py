"""Telemetry is optional: the engine, the app and the CLI load without OpenTelemetry or
prometheus-client, and asking for them without the extra says what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_engine_app_and_cli_import_neither_library() -> None:
    code = textwrap.dedent("""
        import sys
        import duralua.app, duralua.embedded.engine, duralua.cli.main, duralua.ui, duralua.telemetry
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("opentelemetry", "prometheus_client"))
        print(loaded)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_missing_extra_is_a_config_error_with_the_install_hint() -> None:
    code = textwrap.dedent("""
        import sys
        sys.modules["opentelemetry"] = None  # as if the extra were not installed
        sys.modules["opentelemetry.sdk"] = None
        sys.modules["prometheus_client"] = None
        from duralua.errors import ConfigError
        from duralua.telemetry import Telemetry, TelemetryConfig
        for cfg in (TelemetryConfig(tracing=True), TelemetryConfig(metrics=True)):
            try:
                Telemetry(cfg)
            except ConfigError as exc:
                print(exc.hint)
        print(Telemetry(TelemetryConfig()).active)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert lines[0] == lines[1] == "install the extra: pip install 'duralua[otel]'"
    assert lines[2] == "False"
