"""Time to replay a 10,000-event history against the current code (target < 2 s).

python bench/replay.py [--events 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
APP = HERE / "apps" / "sleepers"


async def _record(db: str, calls: int) -> None:
    from duralua import App

    app = App(APP, log=None)
    async with app.engine(db, synchronous="NORMAL") as wf:
        await wf.result(await wf.start("bench:long", "bench:worker", calls, workflow_id="long"))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=10_000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    from duralua import App
    from duralua.embedded.engine import load_history
    from duralua.embedded.replayer import replay_history
    from duralua.embedded.store import Store

    db = tempfile.mkdtemp(prefix="duralua-replay-") + "/r.db"
    asyncio.run(_record(db, args.events // 3))
    store = Store(db)
    history = load_history(store, store.latest_run("long") or {})
    store.close()
    app = App(APP, log=None)
    times = []
    for _ in range(3):
        t = time.perf_counter()
        replay_history(app, history)
        times.append(time.perf_counter() - t)
    best = min(times)
    out = {"events": history.length(), "activations": len(history.activations), "replay_s": best}
    if args.json:
        print(json.dumps(out))
        return
    verdict = "PASS" if best < 2.0 else "FAIL"
    print(
        f"replay: {out['events']} events ({out['activations']} workflow tasks) replayed in {best:.3f}s "
        f"(best of 3; target < 2 s: {verdict})"
    )


if __name__ == "__main__":
    main()
