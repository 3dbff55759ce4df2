"""The ``events`` module's bus (spec runtime-modules.md §2): best-effort publish/subscribe
between the function calls and processes of one runtime. A subscription is a mailbox topic of
its owner (``@events/<n>``) whose deliveries the module turns into a channel; it ends with
``sub:close()`` or with its owner. This runtime emits no internal events of its own."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.scheduler import Delivery
from ..errors import Failure


class _Owner(Protocol):
    pid: str
    event_topics: list[str]

    def deliver(self, delivery: Delivery) -> Failure | None: ...


def matches(pattern: str, value: str) -> bool:
    """Wippy's rule: ``""``/``"*"`` match all; ``"x*"`` is a prefix; otherwise equality."""
    if pattern in ("", "*"):
        return True
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return pattern == value


@dataclass(slots=True)
class _Sub:
    owner: _Owner
    topic: str
    system: str
    kind: str


class EventBus:
    def __init__(self) -> None:
        self._subs: dict[str, _Sub] = {}
        self._ids = itertools.count(1)

    def subscribe(self, owner: _Owner, system: str, kind: str) -> str:
        topic = f"@events/{next(self._ids)}"
        self._subs[topic] = _Sub(owner, topic, system, kind)
        owner.event_topics.append(topic)
        return topic

    def unsubscribe(self, owner: _Owner, topic: str) -> bool:
        sub = self._subs.get(topic)
        if sub is None or sub.owner is not owner:
            return False
        del self._subs[topic]
        if topic in owner.event_topics:
            owner.event_topics.remove(topic)
        return True

    def drop_owner(self, owner: Any) -> None:
        for topic in getattr(owner, "event_topics", ()):
            self._subs.pop(topic, None)

    def send(self, system: str, kind: str, path: str, data: Any, has_data: bool) -> int:
        """Fan out to every matching subscription (the sender's own too); how many got it."""
        event: dict[str, Any] = {"system": system, "kind": kind, "path": path}
        if has_data:
            event["data"] = data
        count = 0
        for sub in list(self._subs.values()):
            # Best effort: a subscriber whose mailbox is full misses the event.
            if not (matches(sub.system, system) and matches(sub.kind, kind)):
                continue
            if sub.owner.deliver(Delivery(sub.topic, "", [], kind="event", data=event)) is None:
                count += 1
        return count

    def __len__(self) -> int:
        return len(self._subs)
