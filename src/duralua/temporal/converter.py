"""Values and failures on the wire: JSON payloads, duralua headers, Failure <-> Temporal errors.

Payloads stay plain ``json/plain`` (what Temporal's UI and CLI show and what
``temporal workflow signal --input '{...}'`` sends), written canonically by the same rules as
:mod:`duralua.codec`: sorted keys, integers stay integers, and an error object inside a value
travels as ``{"__error": {...}}`` so it comes back as a :class:`~duralua.errors.Failure`.

A :class:`Failure` that ends an activity or a workflow travels as a Temporal ``ApplicationError``:
``type`` = kind (``""`` becomes ``"Internal"``), ``non_retryable`` = ``retryable is False``, and
the failure's ``details`` table as the single detail value. Going back, ``retryable`` is
``not non_retryable``: Temporal has no "unknown" retryability.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import temporalio.api.common.v1
import temporalio.api.enums.v1
import temporalio.converter
import temporalio.exceptions
from temporalio.converter import (
    AdvancedJSONEncoder,
    BinaryNullPayloadConverter,
    BinaryPlainPayloadConverter,
    BinaryProtoPayloadConverter,
    CompositePayloadConverter,
    DataConverter,
    JSONPlainPayloadConverter,
    JSONProtoPayloadConverter,
    value_to_type,
)

from ..codec import ERROR_TAG, JSONValue
from ..errors import CANCELED, INTERNAL, TIMEOUT, Failure

Payload = temporalio.api.common.v1.Payload

# Header names. ``wippy-context``/``wippy-sender`` follow Wippy (spec workflows.md §5);
# ``duralua-origin`` carries the parts of the PID a workflow reports for itself, and
# ``duralua-carried`` the unread messages a run hands to the run it continues as.
CONTEXT_HEADER = "wippy-context"
SENDER_HEADER = "wippy-sender"
ORIGIN_HEADER = "duralua-origin"
CARRIED_HEADER = "duralua-carried"


class _Encoder(AdvancedJSONEncoder):
    def default(self, o: Any) -> Any:
        # Before the dataclass rule of the base class: a Failure keeps its identity.
        if isinstance(o, Failure):
            return {ERROR_TAG: o.to_json()}
        return super().default(o)


def _object_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and ERROR_TAG in obj and isinstance(obj[ERROR_TAG], dict):
        return Failure.from_json(obj[ERROR_TAG])
    return obj


class _Decoder(json.JSONDecoder):
    def __init__(self, **kwargs: Any) -> None:
        kwargs["object_hook"] = _object_hook
        super().__init__(**kwargs)


class _JSONPlain(JSONPlainPayloadConverter):
    """``json/plain`` with one encoder and one decoder for every call: ``json.dumps`` and
    ``json.loads`` given a ``cls`` build a new one per call (the decoder's scanner ≈ 10 µs,
    a few per activity attempt). Both are stateless between calls, so shared by threads."""

    _encode = _Encoder(separators=(",", ":"), sort_keys=True).encode
    _decode = _Decoder().decode

    def __init__(self) -> None:
        super().__init__(encoder=_Encoder, decoder=_Decoder)

    def to_payload(self, value: Any) -> Payload | None:
        return Payload(metadata={"encoding": _JSON_PLAIN}, data=self._encode(value).encode())

    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        try:
            obj = self._decode(payload.data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise RuntimeError("Failed parsing") from err
        return value_to_type(type_hint, obj, self._custom_type_converters) if type_hint else obj


_JSON_PLAIN = b"json/plain"


class PayloadConverter(CompositePayloadConverter):
    """Temporal's default converter chain with a Failure-aware ``json/plain`` at the end."""

    def __init__(self) -> None:
        super().__init__(
            BinaryNullPayloadConverter(),
            BinaryPlainPayloadConverter(),
            JSONProtoPayloadConverter(),
            BinaryProtoPayloadConverter(),
            _JSONPlain(),
        )


DATA_CONVERTER = DataConverter(payload_converter_class=PayloadConverter)
_PAYLOADS = DATA_CONVERTER.payload_converter
_JSON = _JSONPlain()


def to_payload(value: Any) -> Payload:
    return _PAYLOADS.to_payloads([value])[0]


def from_payload(payload: Payload) -> JSONValue:
    """Decode one payload into a plain value; bytes (``binary/plain``) become text."""
    if payload.metadata.get("encoding") == _JSON_PLAIN:
        return _JSON.from_payload(payload)
    value = _PAYLOADS.from_payloads([payload], None)[0]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return value


# ---------------------------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------------------------


def make_headers(values: Mapping[str, Any]) -> dict[str, Payload]:
    """Header payloads for the values that are set (``None`` and empty values are left out)."""
    return {name: to_payload(value) for name, value in values.items() if value not in (None, "", {})}


def read_header(headers: Mapping[str, Payload], name: str) -> Any:
    payload = headers.get(name)
    if payload is None:
        return None
    try:
        return from_payload(payload)
    except Exception:
        return None


def header_context(headers: Mapping[str, Payload]) -> dict[str, Any]:
    value = read_header(headers, CONTEXT_HEADER)
    return dict(value) if isinstance(value, dict) else {}


def header_sender(headers: Mapping[str, Payload]) -> str:
    value = read_header(headers, SENDER_HEADER)
    return value if isinstance(value, str) else ""


# ---------------------------------------------------------------------------------------------
# Failures
# ---------------------------------------------------------------------------------------------


def application_error(failure: Failure) -> temporalio.exceptions.ApplicationError:
    """The ApplicationError that carries ``failure`` through Temporal."""
    details: tuple[Any, ...] = (failure.details,) if failure.details else ()
    return temporalio.exceptions.ApplicationError(
        failure.message or "error",
        *details,
        type=failure.kind or INTERNAL,
        non_retryable=failure.retryable is False,
    )


def retry_state_name(state: temporalio.exceptions.RetryState | None) -> str:
    if state is None:
        return "RETRY_STATE_UNSPECIFIED"
    return temporalio.api.enums.v1.RetryState.Name(int(state))  # type: ignore[arg-type]


def _timeout_type(err: temporalio.exceptions.TimeoutError) -> str:
    kind = err.type
    return kind.name.lower() if kind is not None else "unspecified"


def _details(values: Any) -> dict[str, Any] | None:
    items = list(values or ())
    if not items:
        return None
    if len(items) == 1 and isinstance(items[0], dict):
        return dict(items[0])
    return {"values": items}


def failure_from_error(err: BaseException, *, what: str = "operation") -> Failure:
    """Turn an error raised by the Temporal SDK into the Failure Lua sees (spec §11, activities §5)."""
    import asyncio

    if isinstance(err, temporalio.exceptions.ActivityError):
        inner = failure_from_error(err.cause, what="activity") if err.cause else Failure(err.message, INTERNAL)
        return inner.with_details(
            _wrapper="activity", _activity_id=err.activity_id, _retry_state=retry_state_name(err.retry_state)
        )
    if isinstance(err, temporalio.exceptions.ChildWorkflowError):
        inner = failure_from_error(err.cause, what="workflow") if err.cause else Failure(err.message, INTERNAL)
        return inner.with_details(
            _wrapper="child_workflow",
            _workflow_id=err.workflow_id,
            _workflow_type=err.workflow_type,
            _run_id=err.run_id,
            _retry_state=retry_state_name(err.retry_state),
        )
    if isinstance(err, temporalio.exceptions.ApplicationError):
        return Failure(err.message, err.type or INTERNAL, not err.non_retryable, _details(err.details))
    if isinstance(err, temporalio.exceptions.TimeoutError):
        kind = _timeout_type(err)
        return Failure(f"{what} {kind} timeout", TIMEOUT, False, {"timeout_type": kind})
    if isinstance(err, temporalio.exceptions.TerminatedError):
        return Failure("workflow terminated", CANCELED, False)
    if isinstance(err, (temporalio.exceptions.CancelledError, asyncio.CancelledError)):
        return Failure("operation canceled", CANCELED, False)
    if isinstance(err, temporalio.exceptions.ServerError):
        return Failure(err.message, INTERNAL, not err.non_retryable)
    if isinstance(err, temporalio.exceptions.FailureError):
        return Failure(err.message, INTERNAL, None)
    return Failure(f"{type(err).__name__}: {err}", INTERNAL, None)
