"""The ``errors`` global (spec lua-modules.md §3) and the Failure <-> error object helpers.

Error objects are userdata-looking tables (class ``error``, defined in ``_core.lua``) with
methods ``kind``, ``message``, ``retryable``, ``details``, ``stack``; ``tostring(err)`` is the
message (prefixed by the contexts added with ``errors.wrap``), ``..`` works on either side.
Stacks (``err:stack()``, ``errors.call_stack``) list Lua frames only when the ``debug``
library was still present in the Lua state when the first module was installed.
"""

from __future__ import annotations

from typing import Any

from ...codec import dumps
from ...errors import INTERNAL, KINDS, CallError, EncodeError, Failure, Location
from ..context import HostContext
from ..convert import failure_of as _failure_of
from ..convert import make_error_object, state_of, to_python


def install(lua: Any, ctx: HostContext) -> Any:
    st = state_of(lua)

    def build() -> Any:
        m = st.core.copy(st.core.errors)
        for name, value in KINDS.items():
            m[name] = value
        return m

    return st.core.copy(st.cached("errors", build))


def make_error(lua: Any, failure: Failure) -> Any:
    """A Lua error object holding ``failure``."""
    return make_error_object(state_of(lua), failure)


def failure_of(value: Any) -> Failure | None:
    """The :class:`Failure` of a Lua error object; ``None`` for anything else."""
    return _failure_of(value)


def _text_of(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    try:
        return dumps(to_python(value))
    except EncodeError:
        return "(error value cannot be shown)"


def failure_from_raise(value: Any, location: Location | str | None = None) -> Failure:
    """The Failure for a value raised with ``error(v)`` (or an exception escaping a callback).

    Error objects keep their kind/retryable/details; anything else (a plain string...) becomes
    kind ``Internal`` with ``retryable`` unknown (``None``). ``location`` (where the run
    failed) is recorded as the stack when the value has none.
    """
    failure = _failure_of(value)
    if failure is None:
        if isinstance(value, CallError):
            failure = value.failure
        elif isinstance(value, EncodeError):
            failure = Failure(str(value), INTERNAL, False)
        elif isinstance(value, BaseException):
            failure = Failure(str(value) or type(value).__name__, INTERNAL, None)
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
    failure = _failure_of(value)
    if failure is not None:
        return failure
    return Failure(_text_of(value), INTERNAL, False)
