"""The cyclic garbage collector's thresholds while an engine serves.

Python's defaults (700, 10, 10) make the collector run a full, generation-2 pass about every
70,000 net allocations. An engine holding thousands of runs in flight has a few hundred thousand
tracked objects scattered over a heap of a few hundred MB, and a full pass over them costs
100-200 ms — memory latency, not garbage: most of those passes free nothing. Measured on
``bench/evicted.py --only many`` (5,000 runs asleep at once, every state cached): 12 full
passes took 1.46 s of a 5 s run; with a first threshold of 10,000, one pass took 0.33 s and the
throughput rose by 37% (medians of five interleaved rounds; bench/RESULTS.md, session 6).
Reference counting still frees everything that is not in a cycle at once; what waits longer
is only cyclic garbage, for at most 10,000 allocations.

The thresholds change only if they are Python's defaults (an application that tuned its own
keeps them) and go back when the last engine that asked stops. ``gc_tuning=False`` on an
engine leaves the collector alone.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable

__all__ = ["PYTHON_DEFAULT", "TUNED", "tune"]

PYTHON_DEFAULT = (700, 10, 10)
TUNED = (10_000, 10, 10)

_lock = threading.Lock()
_holders = 0
_changed = False


def tune() -> Callable[[], None]:
    """Apply :data:`TUNED` if the collector still has Python's defaults; call the returned
    function (once) to release — the defaults come back when no engine holds the tuning."""
    global _holders, _changed
    with _lock:
        if _holders == 0 and gc.get_threshold() == PYTHON_DEFAULT:
            gc.set_threshold(*TUNED)
            _changed = True
        _holders += 1
    released = False

    def release() -> None:
        global _holders, _changed
        nonlocal released
        with _lock:
            if released:
                return
            released = True
            _holders -= 1
            # Only undo our own change: if the application set thresholds meanwhile, they stay.
            if _holders == 0 and _changed:
                if gc.get_threshold() == TUNED:
                    gc.set_threshold(*PYTHON_DEFAULT)
                _changed = False

    return release
