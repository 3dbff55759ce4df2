"""A CoroutineVM whose coroutines are Python generators: drives the core without Lua."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from duralua.core.scheduler import RAISE, RETURN, YIELD, Delivery, Scheduler

Gen = Generator[tuple[Any, ...], Any, Any]


class FakeVM:
    def __init__(self) -> None:
        self.gens: dict[int, Gen] = {}
        self.stash: dict[int, Any] = {}
        self._next = 0
        self.scheduler: Scheduler | None = None

    def put(self, value: Any) -> int:
        self._next += 1
        self.stash[self._next] = value
        return self._next

    def take(self, handle: int) -> Any:
        return self.stash.pop(handle, None) if handle else None

    def add(self, coro: int, gen: Gen) -> None:
        self.gens[coro] = gen

    def resume(self, coro: int, args: tuple[Any, ...]) -> tuple[Any, ...]:
        gen = self.gens[coro]
        try:
            started = getattr(gen, "gi_frame", None) and gen.gi_frame.f_lasti >= 0
            req = gen.send(args if args else None) if started else gen.send(None)
        except StopIteration as stop:
            return (RETURN, stop.value)
        except Exception as exc:
            return (RAISE, exc)
        return (YIELD, *req)

    def materialize(self, delivery: Delivery, as_message: bool) -> int:
        if delivery.kind == "message":
            value: Any = (delivery.topic, delivery.payloads) if as_message else (
                delivery.payloads[0] if delivery.payloads else None)  # fmt: skip
        else:
            value = delivery.data
        return self.put(value)

    def release(self, handle: int) -> None:
        self.stash.pop(handle, None)


def recv(vm: FakeVM, cid: int) -> Generator[tuple[Any, ...], Any, tuple[Any, bool]]:
    handle, ok = yield ("recv", cid)
    return vm.take(handle), ok


def send(vm: FakeVM, cid: int, value: Any) -> Generator[tuple[Any, ...], Any, Any]:
    res = yield ("send", cid, vm.put(value))
    return res


Program = Callable[[FakeVM, Scheduler], Gen]
