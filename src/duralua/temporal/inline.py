"""Workflow activations on the worker's event loop instead of a thread pool.

The SDK runs each workflow activation on a thread of its ``workflow_task_executor`` so that
its deadlock detector can notice Python workflow code that never yields. duralua's workflow
code is Lua, and lupa releases the GIL on every call into a Lua state: on a pool thread each
of those calls handed the GIL to the loop thread and waited to get it back. Measured on the
three-activity benchmark (``bench/lua_vs_native_temporal.py``, N=1000, 2 CPUs): the worker's
CPU per workflow fell from 1.23-1.37x to 1.12x of the native SDK worker's with activations
run inline, the same machine code costing ≈ 3x less than on the pool threads.

What inline gives up is the pool's isolation from a workflow step that computes for long:
that step holds the loop (heartbeats, polls and other runs wait). Every run's Lua has an
instruction budget per call (50 million instructions by default, well under a second; an app
cannot turn it off), and a step that exceeds it is held, so the wait is bounded. The SDK's
deadlock detector, which an inline step cannot trigger, is what the budget replaces.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class InlineExecutor(concurrent.futures.ThreadPoolExecutor):
    """An executor whose ``submit`` runs the call soon on the calling thread's event loop.

    The call runs in a callback of its own (outside the SDK's dispatch task, as the SDK's
    own debug mode does it: Python 3.14 refuses to step a task inside another one) and in
    an empty context, as on a fresh thread. The SDK's activation leaves no running loop
    behind (it sets its own, then clears it), so the loop's is put back after each call.
    """

    def __init__(self) -> None:
        super().__init__(max_workers=1)  # never starts a thread: submit is overridden

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        loop = asyncio.get_running_loop()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # the pool would hand any exception to the future too
                future.set_exception(exc)
            finally:
                asyncio._set_running_loop(loop)

        loop.call_soon(run, context=contextvars.Context())
        return future
