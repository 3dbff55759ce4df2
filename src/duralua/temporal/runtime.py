"""The Temporal SDK runtime duralua uses: Core's logs go to Python logging, not stdout.

By default the SDK's Rust core prints its warnings (a failing workflow task, an activity
completing after its workflow closed) on stdout, where ``duralua run --call`` and ``duralua
workflow replay --json`` write their JSON. Forwarded to the ``temporalio.core`` logger they
reach stderr (through logging's last-resort handler) or whatever handlers the application set.
"""

from __future__ import annotations

import logging
import threading

from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

_LOCK = threading.Lock()
_DONE = False


def ensure_runtime() -> None:
    """Install duralua's runtime as the SDK default, unless one was created or set before."""
    global _DONE
    with _LOCK:
        if _DONE:
            return
        _DONE = True
        logging_config = LoggingConfig(
            filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
            forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
        )
        try:
            Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=logging_config)))
        except RuntimeError:
            pass  # the application configured its own runtime first: keep it
