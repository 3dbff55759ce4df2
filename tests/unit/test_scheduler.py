"""The core scheduler driven by generator coroutines (no Lua)."""

from __future__ import annotations

from typing import Any

import pytest

from duralua.core.scheduler import PENDING, Deadlock, Delivery, ProcessFailed, Scheduler

from .fakevm import FakeVM, recv, send


def make(handler: Any = None) -> tuple[FakeVM, Scheduler]:
    vm = FakeVM()
    sched = Scheduler(vm, handler or (lambda coro, op, args: (None,)))
    return vm, sched


def test_unbuffered_channel_rendezvous_and_fifo_order() -> None:
    vm, sched = make()
    ch = sched.new_channel(0)
    log: list[Any] = []

    def producer() -> Any:
        for i in range(3):
            yield from send(vm, ch, i)
            log.append(f"sent {i}")
        return None

    def consumer() -> Any:
        for _ in range(3):
            v, _ok = yield from recv(vm, ch)
            log.append(f"got {v}")
        return "done"

    vm.add(1, consumer())
    vm.add(2, producer())
    sched.add_coroutine(1)
    sched.add_coroutine(2)
    sched.run()
    assert sched.done and sched.result == ("done",)
    assert [x for x in log if x.startswith("got")] == ["got 0", "got 1", "got 2"]


def test_close_wakes_receivers_and_buffer_drains_first() -> None:
    vm, sched = make()
    ch = sched.new_channel(2)

    def main() -> Any:
        yield from send(vm, ch, "a")
        sched.close_channel(ch)
        first = yield from recv(vm, ch)
        second = yield from recv(vm, ch)
        return first, second

    vm.add(1, main())
    sched.add_coroutine(1)
    sched.run()
    assert sched.result == ((("a", True), (None, False)),)


def test_select_picks_ready_case_and_default() -> None:
    vm, sched = make()
    a, b = sched.new_channel(1), sched.new_channel(1)

    def main() -> Any:
        r0 = yield ("select", True, "r", a, "r", b)
        yield from send(vm, b, "B")
        r1 = yield ("select", False, "r", a, "r", b)
        return r0[0], r1[0], vm.take(r1[1])

    vm.add(1, main())
    sched.add_coroutine(1)
    sched.run()
    assert sched.result == ((0, 2, "B"),)


def test_mailbox_keeps_messages_until_subscribed() -> None:
    vm, sched = make()
    sched.deliver(Delivery("hello", "sender", ["early"]))
    inbox = sched.new_channel(0)

    def main() -> Any:
        sched.subscribe("@inbox", inbox, True)
        (topic, payloads), _ok = yield from recv(vm, inbox)
        return topic, payloads

    vm.add(1, main())
    sched.add_coroutine(1)
    sched.run()
    assert sched.result == (("hello", ["early"]),)


def test_listen_topic_never_reaches_inbox() -> None:
    vm, sched = make()
    inbox, ctrl = sched.new_channel(0), sched.new_channel(1)
    sched.subscribe("@inbox", inbox, True)
    sched.subscribe("ctrl", ctrl, False)
    sched.deliver(Delivery("ctrl", "", ["stop"]))
    sched.deliver(Delivery("note", "", [1]))

    def main() -> Any:
        c, _ = yield from recv(vm, ctrl)
        (topic, _p), _ = yield from recv(vm, inbox)
        return c, topic

    vm.add(1, main())
    sched.add_coroutine(1)
    sched.run()
    assert sched.result == (("stop", "note"),)


def test_external_ops_pending_then_resolved() -> None:
    calls: list[tuple[int, str]] = []

    def handler(coro: int, op: str, args: tuple[Any, ...]) -> Any:
        calls.append((coro, op))
        return PENDING if op == "call" else ("now",)

    vm, sched = make(handler)

    def main() -> Any:
        immediate = yield ("uuid",)
        later = yield ("call", "x")
        return immediate, later

    vm.add(1, main())
    sched.add_coroutine(1)
    sched.run()
    assert not sched.done and sched.has_waiters()
    sched.resolve(1, ("result",))
    sched.run()
    assert sched.result == ((("now",), ("result",)),)


def test_deadlock_and_raise_are_reported() -> None:
    vm, sched = make()
    ch = sched.new_channel(0)

    def stuck() -> Any:
        yield from recv(vm, ch)

    vm.add(1, stuck())
    sched.add_coroutine(1)
    with pytest.raises(Deadlock):
        sched.run()

    vm2, sched2 = make()

    def boom() -> Any:
        raise ValueError("boom")
        yield  # pragma: no cover

    vm2.add(1, boom())
    sched2.add_coroutine(1)
    with pytest.raises(ProcessFailed):
        sched2.run()
