"""The ``errors`` global (spec lua-modules.md §3) and the Failure <-> error object helpers.

Error objects are userdata-looking tables (class ``error``, defined in ``_core.lua``) with
methods ``kind``, ``message``, ``retryable``, ``details``, ``stack``; ``tostring(err)`` is the
message (prefixed by the contexts added with ``errors.wrap``), ``..`` works on either side.
Stacks (``err:stack()``, ``errors.call_stack``) list Lua frames only when the ``debug``
library was still present in the Lua state when the first module was installed.
"""

from __future__ import annotations

from typing import Any

from ...errors import INTERNAL, KINDS, CallError, EncodeError, Failure, Location
from ..context import HostContext
from ..convert import LUA_OBJECT, describe_tag, make_error_object, state_for_value, state_of
from ..convert import failure_of as _failure_of


def install(lua: Any, ctx: HostContext) -> Any:
    st = state_of(lua)

    def build() -> Any:
        m = st.core.copy(st.core.errors)
        for name, value in KINDS.items():
            m[name] = value
        return m

    return st.copy(st.cached("errors", build))


def make_error(lua: Any, failure: Failure) -> Any:
    """A Lua error object holding ``failure``."""
    return make_error_object(state_of(lua), failure)


def failure_of(value: Any) -> Failure | None:
    """The :class:`Failure` of a Lua error object; ``None`` for anything else."""
    return _failure_of(value)


def _describe(value: Any, retryable: bool | None) -> Failure:
    """A Lua value as a Failure, through the Lua-side ``C.describe`` (no budget here: the Lua
    VM calls it under one, see ``driver.lua``; this is for values Python already holds)."""
    out = state_for_value(value).core.describe(value, "error")
    tag, payload = out if isinstance(out, tuple) else (out, None)
    failure = describe_tag(tag, payload, retryable)
    if failure is None:
        return failure_from_raise(payload)
    return failure


def _text_of(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def failure_from_raise(value: Any, location: Location | str | None = None) -> Failure:
    """The Failure for a value raised with ``error(v)`` (or an exception escaping a callback).

    Error objects keep their kind/retryable/details; anything else (a plain string...) becomes
    kind ``Internal`` with ``retryable`` unknown (``None``), or ``Invalid`` when the value
    cannot cross at all (a binary string). ``location`` (where the run failed) is recorded as
    the stack when the value has none.
    """
    if isinstance(value, Failure):
        failure = value
    elif isinstance(value, CallError):
        failure = value.failure
    elif isinstance(value, EncodeError):
        failure = Failure(str(value), INTERNAL, False)
    elif isinstance(value, BaseException):
        failure = Failure(str(value) or type(value).__name__, INTERNAL, None)
    elif isinstance(value, LUA_OBJECT):
        failure = _describe(value, None)
    else:
        failure = Failure(_text_of(value), INTERNAL, None)
    if location is not None and not failure.stack:
        where = str(location)
        if where:
            failure = Failure(failure.message, failure.kind, failure.retryable, failure.details, where)
    return failure


def failure_from_return(value: Any) -> Failure | None:
    """The Failure for the ``err`` of ``return nil, err``; ``None`` when ``err`` is nil/false.

    A plain string (``return nil, "text"``) becomes kind ``Internal``, not retryable.
    """
    if value is None or value is False:
        return None
    if isinstance(value, Failure):
        return value
    if isinstance(value, LUA_OBJECT):
        return _describe(value, False)
    return Failure(_text_of(value), INTERNAL, False)
