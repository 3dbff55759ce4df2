"""Fixtures of the Temporal backend tests: one dev server for the whole session."""

from __future__ import annotations

import pytest

from duralua.temporal.devserver import DevServer

from .harness import dev_server


@pytest.fixture(scope="session")
def temporal_server(request: pytest.FixtureRequest) -> DevServer:
    return dev_server(request.config)
