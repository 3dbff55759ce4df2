"""duralua's pytest plugin (registered by ``pip install duralua``): ``async def`` tests run.

Tests of workflows are naturally async (``async with WorkflowEnvironment(...) as env``), and
plain pytest refuses ``async def`` tests ("async def functions are not natively supported").
This plugin runs each such test in a fresh event loop (``asyncio.run``), with its fixtures,
so the README's test works with nothing else installed::

    from duralua.testing import WorkflowEnvironment

    async def test_order():
        async with WorkflowEnvironment("examples/shop") as env:
            ...

It steps aside when an async plugin is in charge: pytest-asyncio is installed, or the test
is marked for anyio (``@pytest.mark.anyio``) or asyncio. ``-p no:duralua`` turns it off.
The module imports nothing heavy: pytest loads it in every session of an environment that
has duralua installed.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest


def _handled_elsewhere(item: pytest.Function) -> bool:
    if item.config.pluginmanager.hasplugin("asyncio"):  # pytest-asyncio
        return True
    return any(item.get_closest_marker(name) is not None for name in ("anyio", "asyncio", "trio"))


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    test = pyfuncitem.obj
    if not inspect.iscoroutinefunction(test) or _handled_elsewhere(pyfuncitem):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs: dict[str, Any] = {name: pyfuncitem.funcargs[name] for name in names}
    asyncio.run(test(**kwargs))
    return True
