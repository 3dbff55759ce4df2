"""The Lua sandbox: one ``lupa.lua54.LuaRuntime`` that user code can use but not escape.

User code sees only the safe globals of an environment built by :meth:`LuaSandbox.make_globals`
(the standard ``string``/``table``/``math``/``coroutine`` libraries and the safe base
functions). The privileged helpers live in ``prelude.lua`` and are held by Python only.

Guarantees:

* **No escape**: no ``os``/``io``/``debug``/``load``/``require``/``package``/``python``/
  ``collectgarbage``; ``string.dump`` is removed, also from the string metatable (which
  ``getmetatable("")`` no longer returns); Python objects that reach Lua expose no attribute.
* **Deterministic iteration**: ``pairs``/``next`` visit positive integer keys ascending (the
  array part first), then other numbers, strings (byte order), ``false``, ``true`` and other
  key types. The order is the same in every Lua state.
* **Instruction budget** per top-level step (:meth:`LuaSandbox.resume`, :meth:`LuaSandbox.call`
  and the Lua-side :attr:`LuaSandbox.lua_resume`): every coroutine run during the step
  counts. A runaway loop raises :class:`~duralua.errors.BudgetExceeded`; ``pcall``,
  ``xpcall``, ``coroutine.resume/wrap/close`` and ``__close`` handlers cannot swallow it.
* **Memory limit** through lupa's ``max_memory``: a memory bomb raises
  :class:`~duralua.errors.MemoryLimitExceeded` (also not catchable by ``pcall``); the state
  stays usable once the offending thread is gone.
* **Errors** become :class:`~duralua.errors.LuaError` with the file and line of the user
  source (type annotations are stripped without moving lines; inline YAML sources are shifted
  to their line in the YAML file).
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any, NoReturn

import lupa.lua54 as lupa

from ..errors import (
    BudgetExceeded,
    DuraluaError,
    Location,
    LuaError,
    MemoryLimitExceeded,
    SandboxViolation,
)
from .typed_runtime import compile_chunk

__all__ = ["DEFAULT_INSTRUCTION_BUDGET", "DEFAULT_MEMORY_LIMIT", "LuaSandbox", "LuaThread"]

DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024
DEFAULT_INSTRUCTION_BUDGET = 50_000_000

# Hook windows: a freshly resumed coroutine is charged FIRST instructions, then WINDOW at a
# time. Larger windows cost less hook overhead; the charge is never below the real count.
_WINDOW = 10_000
_FIRST = 200

_VIOLATION = "sandbox violation: "
_OK, _YIELDED, _ERROR, _BUDGET, _MEMORY = 0, 1, 2, 3, 4


@functools.cache
def _load_prelude(name: str = "prelude.lua") -> bytes:
    """Compile ``name`` once per process to Lua bytecode (loads faster than source).

    ``patterns.lua`` and ``lmatch.lua`` (budget-aware string matching), ``rng.lua`` (a
    ``math.random`` generator per run) and ``ordered_pairs.lua`` (the deterministic
    ``next``/``pairs``), loaded by the prelude, are compiled under the prelude's chunk name:
    error locations skip their frames alike.
    """
    source = resources.files("duralua.lua").joinpath(name).read_text(encoding="utf-8")
    scratch = lupa.LuaRuntime(encoding=None, register_eval=False, register_builtins=False)
    dump = scratch.eval("function(src) return string.dump(assert(load(src, '=prelude', 't'))) end")
    dumped = dump(source.encode())
    assert isinstance(dumped, bytes)
    return dumped


# The prelude, then the chunks it loads, in the order of its arguments after the budget's.
_PRELUDE_PARTS = ("prelude.lua", "patterns.lua", "lmatch.lua", "rng.lua", "ordered_pairs.lua")


def _prelude() -> tuple[bytes, ...]:
    return tuple(_load_prelude(name) for name in _PRELUDE_PARTS)


def _refuse_attribute(obj: Any, name: Any, is_setting: bool) -> NoReturn:
    raise SandboxViolation(f"access to attribute {name!r} of a Python object is not allowed")


def _display_name(chunkname: str) -> str:
    return chunkname[1:] if chunkname[:1] in ("@", "=") else chunkname


class LuaThread:
    """A Lua coroutine held by Python (Lua threads cannot round-trip through lupa themselves)."""

    __slots__ = ("_box", "_sandbox")

    def __init__(self, sandbox: LuaSandbox, box: Any) -> None:
        self._sandbox = sandbox
        self._box = box

    @property
    def status(self) -> str:
        """``"suspended"``, ``"running"``, ``"normal"`` or ``"dead"``."""
        return str(self._sandbox._priv.status_box(self._box))

    @property
    def dead(self) -> bool:
        return self.status == "dead"


class LuaSandbox:
    """One sandboxed Lua 5.4 state.

    ``memory_limit`` is in bytes (``None``: unlimited); ``instruction_budget`` is the number of
    VM instructions one top-level step may run (``None``: unlimited).
    """

    def __init__(
        self,
        *,
        memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
        instruction_budget: int | None = DEFAULT_INSTRUCTION_BUDGET,
    ) -> None:
        if instruction_budget is not None and instruction_budget <= 0:
            raise ValueError("instruction_budget must be positive or None")
        if memory_limit is not None and memory_limit <= 0:
            raise ValueError("memory_limit must be positive or None")
        self._memory_limit = memory_limit
        self._budget = instruction_budget
        self._lua: Any = lupa.LuaRuntime(
            register_eval=False,
            register_builtins=False,
            unpack_returned_tuples=True,
            max_memory=memory_limit,
            attribute_filter=_refuse_attribute,
        )
        window = _WINDOW if instruction_budget is None else max(1, min(_WINDOW, instruction_budget))
        first = _FIRST if instruction_budget is None else max(1, min(_FIRST, instruction_budget))
        try:
            prelude, *parts = _prelude()
            self._priv: Any = self._lua.execute(prelude, instruction_budget or False, window, first, *parts)
        except lupa.LuaMemoryError as exc:
            raise MemoryLimitExceeded(f"memory limit of {memory_limit} bytes is too small") from exc
        self._call_fn: Any = self._priv.call
        self._lua_resume: Any = None
        # short_src (as Lua prints it) -> file path, for every chunk compiled here
        self._chunks: dict[str, str] = {}
        self._depth = 0  # nesting of call()/resume() (a callback may call back into Lua)

    # -- properties ----------------------------------------------------------------------------

    @property
    def lua(self) -> Any:
        """The ``lupa.lua54.LuaRuntime`` (privileged: its globals are not the sandbox's)."""
        return self._lua

    @property
    def memory_limit(self) -> int | None:
        return self._memory_limit

    @property
    def instruction_budget(self) -> int | None:
        return self._budget

    @property
    def memory_used(self) -> int:
        used = self._lua.get_memory_used()
        return int(used or 0)

    @property
    def lua_new_thread(self) -> Any:
        """Lua function ``(fn) -> thread`` (``coroutine.create``; the budget applies on resume)."""
        return self._priv.new_thread

    @property
    def lua_resume(self) -> Any:
        """Lua function ``(co, ...) -> ok, ...`` like ``coroutine.resume``, for Lua-side drivers.

        It is a top-level step: the budget counter starts from zero (unless it runs nested in
        another step, whose budget it then shares). Lua errors come back as ``false, err``;
        a budget or memory failure raises :class:`BudgetExceeded`/:class:`MemoryLimitExceeded`
        straight to the Python code that called into Lua. A thread killed that way is left dead
        but not closed (its ``__close`` handlers would run without a budget): drop every
        reference to it so that its memory can be collected.
        """
        if self._lua_resume is None:
            self._lua_resume = self._priv.make_resume(self._raise_fatal)
        return self._lua_resume

    @property
    def lua_call(self) -> Any:
        """Lua function ``(fn, ...) -> code, ...``: ``fn`` runs in a fresh coroutine as one
        budgeted step and nothing raises (for Lua-side drivers that must finish whatever the
        user's values do, e.g. a ``__tostring`` that loops). ``code`` is 0 (returned, values
        follow), 1 (yielded), 2 (raised: message, source, line, traceback, value), 3 (budget
        exceeded) or 4 (memory limit exceeded). Called from inside a step it shares that
        step's budget, and a fatal error there stays fatal for the enclosing step."""
        return self._priv.call

    # -- environments --------------------------------------------------------------------------

    def make_globals(self) -> Any:
        """A fresh globals table (``_ENV``) with the safe base; ``_G`` points to itself.

        Standard libraries (and globals registered with ``copy=True``) are shallow copies, so
        one entry changing ``string.x`` does not affect another entry in the same state.
        """
        return self._priv.make_env()

    new_env = make_globals

    def register_global(self, name: str, value: Any, *, copy: bool = False) -> None:
        """Add ``name`` to every environment made from now on (``copy``: one copy per env)."""
        self._priv.register(name, value, copy)

    def table(self, *items: Any, **fields: Any) -> Any:
        return self._lua.table(*items, **fields)

    def table_from(self, *args: Any, recursive: bool = False) -> Any:
        return self._lua.table_from(*args, recursive=recursive)

    def make_class(self, name: str) -> Any:
        """A metatable for userdata-like objects: ``type(obj) == "userdata"``, ``__name`` set,
        ``getmetatable(obj)`` returning ``false``. Put methods in ``mt.__index`` (a separate
        table, so that ``obj.__index`` does not reveal the metatable)."""
        return self._priv.make_class(name)

    def lua_type(self, value: Any) -> str:
        """The sandbox's ``type()`` of a value (``"userdata"`` for :meth:`make_class` objects)."""
        return str(self._priv.type(value))

    # -- compiling -----------------------------------------------------------------------------

    def compile(self, source: str, chunkname: str, *, env: Any = None, first_line: int = 1) -> Any:
        """Compile user source (type annotations stripped) into a Lua function.

        ``chunkname`` is the user-facing path (``"src/app/order.lua"`` or ``"@src/app/order.lua"``);
        messages then read ``src/app/order.lua:12: ...``. ``first_line`` is the line of the
        source's first line in its file (for Lua inline in YAML). ``env`` defaults to a fresh
        :meth:`make_globals`. Text chunks only. Raises :class:`LuaError` on syntax errors.
        """
        if chunkname[:1] not in ("@", "="):
            chunkname = "@" + chunkname
        path = _display_name(chunkname)
        if env is None:
            env = self.make_globals()
        short = self._short_src(chunkname)
        self._chunks[short] = path
        try:
            # typed Lua: types stripped (cached per source), type values bound -- lua/typed_runtime.py
            fn, err = compile_chunk(self, source, chunkname, env, first_line)
        except lupa.LuaMemoryError as exc:
            self._lua.gccollect()
            raise MemoryLimitExceeded(f"memory limit exceeded while compiling {path}") from exc
        if fn is None:
            message = str(err)
            file, line, text = self._split(message)
            raise LuaError(text, location=Location(file or path, line))
        return fn

    def execute(self, source: str, chunkname: str = "=sandbox", *args: Any, env: Any = None) -> Any:
        """Compile and :meth:`call` a chunk (convenience for tests and small scripts)."""
        return self.call(self.compile(source, chunkname, env=env), *args)

    def _short_src(self, chunkname: str) -> str:
        if len(chunkname) <= 60:  # LUA_IDSIZE: Lua shows the name unchanged
            return _display_name(chunkname)
        if chunkname[0] == "@":
            return "..." + chunkname[-56:]
        return chunkname[1:60]

    # -- running -------------------------------------------------------------------------------

    def call(self, fn: Any, *args: Any) -> Any:
        """Call a Lua function in a fresh budgeted thread and return its results like lupa does
        (``None``, one value, or a tuple for several). Raises :class:`LuaError` (or the Python
        exception a callback raised), :class:`BudgetExceeded`, :class:`MemoryLimitExceeded`.
        A function that yields is an error here: use :meth:`new_thread`/:meth:`resume`.
        """
        out = self._enter(self._call_fn, fn, *args)
        code = out[0]
        if code == _OK:
            values = out[1:]
            if not values:
                return None
            return values[0] if len(values) == 1 else values
        if code == _YIELDED:
            raise LuaError("coroutine.yield outside a coroutine (LuaSandbox.call cannot yield)")
        self._fail(out)

    def new_thread(self, fn: Any) -> LuaThread:
        """A suspended coroutine running ``fn``; drive it with :meth:`resume`."""
        return LuaThread(self, self._priv.box(fn))

    def resume(self, thread: LuaThread, *args: Any) -> tuple[Any, ...]:
        """Resume ``thread`` as one budgeted step and return what it yielded or returned
        (check ``thread.status``/``thread.dead`` to tell which). Errors raise like :meth:`call`
        and leave the thread dead; the sandbox stays usable for other threads.
        """
        out = self._enter(self._priv.resume_box, thread._box, *args)
        if out[0] in (_OK, _YIELDED):
            return tuple(out[1:])
        self._fail(out)

    def _enter(self, runner: Any, *args: Any) -> tuple[Any, ...]:
        depth = self._depth
        self._depth = depth + 1
        try:
            out = runner(*args)
        except lupa.LuaMemoryError as exc:
            # only trusted prelude code can get here (user code fails inside its thread)
            self._priv.unwind(depth)
            self._lua.gccollect()
            raise MemoryLimitExceeded(self._memory_message()) from exc
        except lupa.LuaError as exc:
            self._priv.unwind(depth)
            raise LuaError(str(exc).split("\nstack traceback:", 1)[0]) from exc
        finally:
            self._depth = depth
        return out if isinstance(out, tuple) else (out,)

    def _memory_message(self) -> str:
        return f"memory limit of {self._memory_limit} bytes exceeded"

    def _fail(self, out: tuple[Any, ...]) -> NoReturn:
        code = out[0]
        if code == _BUDGET:
            src, line = (out[1], out[2]) if len(out) >= 3 else (None, None)
            self._raise_fatal("budget", src, line)
        if code == _MEMORY:
            self._lua.gccollect()  # the failed thread is unreachable now: release its memory
            self._raise_fatal("memory")
        _, message, src, line, traceback, value = (tuple(out) + (None,) * 6)[:6]
        message = str(message)
        file, mline, text = self._split(message)
        frame_file = _display_name(src) if isinstance(src, str) else None
        location = Location(file or frame_file, mline if file else (line if isinstance(line, int) else None))
        exc: DuraluaError
        if isinstance(value, DuraluaError):
            if not value.location.file and location.file:
                value.location = location
            exc = value
        elif isinstance(value, BaseException):
            exc = LuaError(f"{type(value).__name__}: {value}", location=location)
            exc.__cause__ = value
        elif text.startswith(_VIOLATION):
            exc = SandboxViolation(text[len(_VIOLATION) :], location=location)
        else:
            exc = LuaError(text, location=location)
        if not hasattr(exc, "lua_value"):
            setattr(exc, "lua_value", value)  # noqa: B010 - LuaError has no such field
            setattr(exc, "lua_traceback", str(traceback or ""))  # noqa: B010
        raise exc

    def _raise_fatal(self, kind: str, source: Any = None, line: Any = None) -> NoReturn:
        if kind == "memory":
            raise MemoryLimitExceeded(self._memory_message())
        file = _display_name(source) if isinstance(source, str) else None
        raise BudgetExceeded(
            f"instruction budget of {self._budget} exceeded (endless loop?)",
            location=Location(file, line if isinstance(line, int) else None),
        )

    def _split(self, message: str) -> tuple[str | None, int | None, str]:
        """``"short_src:12: text"`` -> (file path, 12, "text") for chunks compiled here."""
        for short, path in self._chunks.items():
            if message.startswith(short + ":"):
                m = _LINE.match(message, len(short) + 1)
                if m:
                    return path, int(m.group(1)), message[m.end() :]
        return None, None, message


_LINE = re.compile(r"(\d+): ?")
