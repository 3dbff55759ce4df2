"""Activity options -> Temporal SDK arguments (no server needed)."""

from __future__ import annotations

from datetime import timedelta

from duralua.core.options import parse_activity_options
from duralua.temporal.options import DEFAULT_HEARTBEAT_TIMEOUT, activity_kwargs


def kwargs(raw: dict[str, object], *, local: bool = False, heartbeats: bool = True) -> dict[str, object]:
    return activity_kwargs(parse_activity_options(raw), seq=3, local=local, heartbeats=heartbeats)


def test_heartbeat_timeout_defaults_and_overrides() -> None:
    assert timedelta(seconds=20) == DEFAULT_HEARTBEAT_TIMEOUT
    # An activity of a duralua worker heartbeats, so it gets the default...
    assert kwargs({})["heartbeat_timeout"] == DEFAULT_HEARTBEAT_TIMEOUT
    # ...unless the options (or the target's meta.options) say otherwise; 0 turns it off.
    assert kwargs({"activity.heartbeat_timeout": "2s"})["heartbeat_timeout"] == timedelta(seconds=2)
    assert kwargs({"temporal.activity.heartbeat_timeout": 1500})["heartbeat_timeout"] == timedelta(seconds=1.5)
    assert kwargs({"activity.heartbeat_timeout": "0s"})["heartbeat_timeout"] == timedelta(0)
    # A foreign worker's activity may never heartbeat: no default for it.
    assert kwargs({}, heartbeats=False)["heartbeat_timeout"] is None
    assert kwargs({"activity.heartbeat_timeout": "5s"}, heartbeats=False)["heartbeat_timeout"] == timedelta(seconds=5)
    # Local activities have no heartbeat timeout at all.
    assert "heartbeat_timeout" not in kwargs({"activity.heartbeat_timeout": "5s"}, local=True)
    # The start-to-close default is the core's (10 minutes), the same on both engines.
    assert kwargs({})["start_to_close_timeout"] == timedelta(minutes=10)
    assert kwargs({"activity.schedule_to_close_timeout": "1m"})["start_to_close_timeout"] is None
