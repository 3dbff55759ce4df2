"""Cooperative scheduler of one process's coroutines: channels, select, mailbox.

The scheduler is the single place where concurrency inside one Lua process is decided, for
ordinary functions and for durable workflows alike. It is deterministic: coroutines run in
FIFO order until they block, channel hand-offs follow fixed rules, and the mailbox is flushed
in arrival order (spec workflows.md §7.2, §14). It knows nothing of Lua: it drives a
:class:`CoroutineVM` that resumes coroutines by integer id and moves values as opaque
integer *handles* (the values themselves never leave the Lua state).

Requests that are not about channels (calls, timers, spawns, ...) are *external operations*.
They go to an :class:`OpHandler` supplied by the host, which either answers at once (the
coroutine continues within the same step) or later through :meth:`Scheduler.resolve`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# Coroutine resume outcomes reported by the VM.
YIELD = 0
RETURN = 1
RAISE = 2

NO_VALUE = 0  # the handle meaning "nil" (nothing stashed)

PENDING: Any = object()  # returned by an OpHandler when the answer comes later


@dataclass(slots=True)
class Delivery:
    """A message waiting in a process mailbox.

    ``kind`` tells the VM how to turn it into a Lua value when it is handed to a channel:
    ``"message"`` (a Message object, or its decoded payload for a plain ``listen``),
    ``"event"`` (a lifecycle event table), ``"time"`` (a Time for a timer fire),
    ``"future"`` (a Payload or error object for an async call).
    """

    topic: str
    sender: str
    payloads: list[Any]
    kind: str = "message"
    data: Any = None
    seq: int = 0  # arrival order in this process (continue-as-new carries unread ones in order)


@dataclass(slots=True)
class Subscription:
    channel: int
    as_message: bool = True


class CoroutineVM(Protocol):
    """What the scheduler needs from a Lua state."""

    def resume(self, coro: int, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """Resume coroutine ``coro``; return ``(YIELD, op, *args)``, ``(RETURN, *values)`` or
        ``(RAISE, error)``."""
        ...

    def materialize(self, delivery: Delivery, as_message: bool) -> int:
        """Build the Lua value for a delivery inside the state and return its handle."""
        ...

    def release(self, handle: int) -> None:
        """Drop a stashed value that will never be received."""
        ...


class OpHandler(Protocol):
    def __call__(self, coro: int, op: str, args: tuple[Any, ...]) -> Any:
        """Handle an external operation. Return a tuple of resume values, or PENDING."""
        ...


class _Detached:
    """The VM and op handler of a closed process's scheduler (Scheduler.detach)."""

    def _closed(self, *args: Any) -> Any:
        raise RuntimeError("the scheduler of a closed process was used")

    resume = materialize = release = _closed

    def op(self, coro: int, op: str, args: tuple[Any, ...]) -> Any:
        return self._closed()


_DETACHED = _Detached()


class ProcessFailed(Exception):
    """A coroutine raised (or the process deadlocked); carries the raised Lua value."""

    def __init__(self, error: Any, coro: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.coro = coro


class Deadlock(Exception):
    """Every coroutine is blocked on channels and nothing external can wake them."""


@dataclass(slots=True)
class _Channel:
    cid: int
    capacity: int
    buffer: deque[int] = field(default_factory=deque)
    closed: bool = False
    # Parked receivers: (coro, select_token or None). Parked senders: (coro, handle, token).
    receivers: deque[tuple[int, _Select | None]] = field(default_factory=deque)
    senders: deque[tuple[int, int, _Select | None]] = field(default_factory=deque)


@dataclass(slots=True)
class _Select:
    coro: int
    cases: list[tuple[str, int, int]]  # ("r"|"s", channel id, handle for sends)
    done: bool = False


class Scheduler:
    """Runs the coroutines of one process until they are all blocked."""

    MAIN = 1

    def __init__(self, vm: CoroutineVM | None, ops: OpHandler) -> None:
        self._vm: CoroutineVM = vm  # type: ignore[assignment]  # attach() sets it when None
        self._ops = ops
        self._runq: deque[tuple[int, tuple[Any, ...]]] = deque()
        self._channels: dict[int, _Channel] = {}
        self._next_channel = 0
        self._mailbox: deque[Delivery] = deque()
        self._subs: dict[str, Subscription] = {}
        # Messages taken out of the mailbox but not yet received by Lua code: sitting in a
        # channel buffer, or handed to a coroutine that has not run yet (by handle / by coro).
        self._arrivals = 0
        self._origins: dict[int, Delivery] = {}
        self._handed: dict[int, int] = {}
        self._pending_ops: set[int] = set()
        self._blocked: set[int] = set()
        self._alive: set[int] = set()
        self.done = False
        self.result: tuple[Any, ...] = ()
        self.on_coroutine_error: Callable[[int, Any], None] | None = None

    def attach(self, vm: CoroutineVM) -> None:
        """Set the VM when it is created after the scheduler (it needs the scheduler first)."""
        self._vm = vm

    def detach(self) -> None:
        """Drop the VM and the op handler of a closed process. They point back at its owner
        (a cycle): without this only the cyclic collector frees a closed run, and with it
        whatever the run holds, its Lua tenant included. Using the scheduler afterwards raises."""
        self._vm = _DETACHED
        self._ops = _DETACHED.op

    # -- coroutines ---------------------------------------------------------------------------

    def add_coroutine(self, coro: int, args: tuple[Any, ...] = ()) -> None:
        """A new coroutine (the main one, or one from ``coroutine.spawn``) becomes runnable."""
        self._alive.add(coro)
        self._runq.append((coro, args))

    @property
    def idle(self) -> bool:
        return not self._runq

    def has_waiters(self) -> bool:
        """True if something outside could still wake the process (ops, subscriptions)."""
        return bool(self._pending_ops) or bool(self._subs)

    # -- channels -----------------------------------------------------------------------------

    def new_channel(self, capacity: int = 0) -> int:
        self._next_channel += 1
        self._channels[self._next_channel] = _Channel(self._next_channel, max(0, capacity))
        return self._next_channel

    def close_channel(self, cid: int) -> None:
        ch = self._channels[cid]
        if ch.closed:
            return
        ch.closed = True
        while ch.receivers:
            coro, sel = ch.receivers.popleft()
            if sel is None:
                self._wake(coro, (NO_VALUE, False))
            elif not sel.done:
                self._finish_select(sel, self._case_index(sel, "r", cid), NO_VALUE, False)
        while ch.senders:
            coro, handle, sel = ch.senders.popleft()
            if sel is None:
                self._vm.release(handle)
                self._wake(coro, ("closed",))
            elif not sel.done:
                self._finish_select(sel, self._case_index(sel, "s", cid), NO_VALUE, False)

    def channel_size(self, cid: int) -> int:
        return len(self._channels[cid].buffer)

    def _try_send(self, ch: _Channel, handle: int) -> bool:
        """Non-blocking hand-off of ``handle`` into ``ch``; False if it would block."""
        while ch.receivers:
            coro, sel = ch.receivers.popleft()
            if sel is None:
                self._hand(coro, handle)
                self._wake(coro, (handle, True))
                return True
            if not sel.done:
                self._hand(sel.coro, handle)
                self._finish_select(sel, self._case_index(sel, "r", ch.cid), handle, True)
                return True
        if len(ch.buffer) < ch.capacity:
            ch.buffer.append(handle)
            return True
        return False

    def _hand(self, coro: int, handle: int) -> None:
        if handle in self._origins:
            self._handed[coro] = handle

    def _try_receive(self, ch: _Channel) -> tuple[int, bool] | None:
        if ch.buffer:
            handle = ch.buffer.popleft()
            self._origins.pop(handle, None)
            self._refill_from_senders(ch)
            return handle, True
        while ch.senders:
            coro, handle, sel = ch.senders.popleft()
            if sel is None:
                self._wake(coro, (True,))
                return handle, True
            if not sel.done:
                self._finish_select(sel, self._case_index(sel, "s", ch.cid), handle, True)
                return handle, True
        if ch.closed:
            return NO_VALUE, False
        return None

    def _refill_from_senders(self, ch: _Channel) -> None:
        while ch.senders and len(ch.buffer) < ch.capacity:
            coro, handle, sel = ch.senders.popleft()
            if sel is None:
                ch.buffer.append(handle)
                self._wake(coro, (True,))
            elif not sel.done:
                ch.buffer.append(handle)
                self._finish_select(sel, self._case_index(sel, "s", ch.cid), handle, True)

    @staticmethod
    def _case_index(sel: _Select, kind: str, cid: int) -> int:
        for i, (k, c, _h) in enumerate(sel.cases):
            if k == kind and c == cid:
                return i
        raise KeyError(cid)

    def _finish_select(self, sel: _Select, index: int, handle: int, ok: bool) -> None:
        # Values of send cases that were not taken are freed by the Lua side, which knows
        # which case won; entries of a finished select left in other queues are skipped.
        sel.done = True
        self._wake(sel.coro, (index + 1, handle, ok))

    def _select(self, coro: int, flat: Sequence[Any], has_default: bool) -> tuple[Any, ...] | None:
        cases: list[tuple[str, int, int]] = []
        i = 0
        while i < len(flat):
            kind = flat[i]
            if kind == "s":
                cases.append(("s", int(flat[i + 1]), int(flat[i + 2])))
                i += 3
            else:
                cases.append(("r", int(flat[i + 1]), NO_VALUE))
                i += 2
        # First ready case in order: deterministic (the spec leaves the choice open).
        for index, (kind, cid, handle) in enumerate(cases):
            ch = self._channels[cid]
            if kind == "r":
                got = self._try_receive(ch)
                if got is not None:
                    return (index + 1, got[0], got[1])
            else:
                if ch.closed:
                    return (index + 1, NO_VALUE, False)
                if self._try_send(ch, handle):
                    return (index + 1, handle, True)
        if has_default:
            return (0, NO_VALUE, True)
        sel = _Select(coro, cases)
        for kind, cid, handle in cases:
            ch = self._channels[cid]
            if kind == "r":
                ch.receivers.append((coro, sel))
            else:
                ch.senders.append((coro, handle, sel))
        return None

    # -- mailbox ------------------------------------------------------------------------------

    def subscribe(self, topic: str, channel: int, as_message: bool = True) -> None:
        self._subs[topic] = Subscription(channel, as_message)

    def unsubscribe(self, topic: str) -> None:
        self._subs.pop(topic, None)

    def subscription(self, topic: str) -> Subscription | None:
        return self._subs.get(topic)

    def deliver(self, delivery: Delivery) -> None:
        self._arrivals += 1
        delivery.seq = self._arrivals
        self._mailbox.append(delivery)

    def _flush_mailbox(self) -> None:
        if not self._mailbox:
            return
        inbox = self._subs.get("@inbox")
        kept: deque[Delivery] = deque()
        full: set[int] = set()  # subscribed channels that cannot take more during this flush
        while self._mailbox:
            if len(full) >= len(self._subs) and all(s.channel in full for s in self._subs.values()):
                # Nothing further can be handed over now: keep the rest as it is. Without this, a
                # long queue behind a busy receiver is rescanned on every flush (quadratic).
                kept.extend(self._mailbox)
                self._mailbox.clear()
                break
            d = self._mailbox.popleft()
            sub = self._subs.get(d.topic)
            if sub is None and inbox is not None and not d.topic.startswith("@"):
                sub = inbox
            if sub is None:
                kept.append(d)
                continue
            ch = self._channels.get(sub.channel)
            if ch is None or ch.closed or not self._can_accept(ch):
                kept.append(d)
                full.add(sub.channel)
                continue
            handle = self._vm.materialize(d, sub.as_message)
            if d.kind == "message":
                self._origins[handle] = d
            self._try_send(ch, handle)
            if d.kind == "future":
                # A future's channel carries exactly one value, then reads as closed.
                self.close_channel(sub.channel)
                self._subs.pop(d.topic, None)
        self._mailbox = kept

    @staticmethod
    def _can_accept(ch: _Channel) -> bool:
        if len(ch.buffer) < ch.capacity:
            return True
        return any(sel is None or not sel.done for _c, sel in ch.receivers)

    def pending_messages(self) -> int:
        return len(self._mailbox)

    def unread_messages(self) -> list[Delivery]:
        """Messages that reached this process but that its code never received, in arrival order:
        still in the mailbox, in a channel buffer (a ``listen`` channel holds one), or handed to
        a coroutine that has not run since."""
        waiting = [d for d in self._mailbox if d.kind == "message"]
        unread = [d for d in (*self._origins.values(), *waiting) if not d.topic.startswith("@")]
        return sorted(unread, key=lambda d: d.seq)

    # -- external operations ------------------------------------------------------------------

    def resolve(self, coro: int, values: tuple[Any, ...]) -> None:
        """An external operation of ``coro`` finished; it becomes runnable again."""
        self._pending_ops.discard(coro)
        self._wake(coro, values)

    def _wake(self, coro: int, values: tuple[Any, ...]) -> None:
        self._blocked.discard(coro)
        self._runq.append((coro, values))

    # -- running ------------------------------------------------------------------------------

    def run(self) -> None:
        """Run until every coroutine is blocked or the main coroutine has returned.

        Raises :class:`ProcessFailed` if a coroutine raised and :class:`Deadlock` if all
        coroutines wait on channels with nothing outside able to wake them.
        """
        while not self.done:
            self._flush_mailbox()
            if not self._runq:
                break
            while self._runq and not self.done:
                coro, args = self._runq.popleft()
                if coro in self._alive:
                    self._step(coro, args)
        if not self.done and not self._runq and not self.has_waiters() and self._blocked:
            raise Deadlock("all coroutines blocked with no pending operations")

    def _step(self, coro: int, args: tuple[Any, ...]) -> None:
        handed = self._handed.pop(coro, None)
        if handed is not None:
            self._origins.pop(handed, None)  # the coroutine now receives it
        vm = self._vm
        while True:
            out = vm.resume(coro, args)
            status = out[0]
            if status == RETURN:
                self._alive.discard(coro)
                if coro == self.MAIN:
                    self.done = True
                    self.result = tuple(out[1:])
                return
            if status == RAISE:
                self._alive.discard(coro)
                raise ProcessFailed(out[1], coro)
            op = out[1]
            if op == "recv":
                got = self._try_receive(self._channels[out[2]])
                if got is None:
                    self._channels[out[2]].receivers.append((coro, None))
                    self._blocked.add(coro)
                    return
                args = got
            elif op == "send":
                ch = self._channels[out[2]]
                if ch.closed:
                    vm.release(out[3])
                    args = ("closed",)
                elif self._try_send(ch, out[3]):
                    args = (True,)
                else:
                    ch.senders.append((coro, out[3], None))
                    self._blocked.add(coro)
                    return
            elif op == "select":
                got_sel = self._select(coro, out[3:], bool(out[2]))
                if got_sel is None:
                    self._blocked.add(coro)
                    return
                args = got_sel
            elif op == "yield":
                # Cooperative yield: go to the back of the run queue.
                self._runq.append((coro, ()))
                return
            else:
                answer = self._ops(coro, op, tuple(out[2:]))
                if answer is PENDING:
                    self._pending_ops.add(coro)
                    self._blocked.add(coro)
                    return
                args = answer
