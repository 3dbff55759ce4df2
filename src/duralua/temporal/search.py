"""Search attributes: the namespace schema, vetting upserts, and typed values for the SDK.

Temporal fails (and retries for ever) the workflow task of an upsert that names an attribute
the namespace does not have, while Lua already saw success (design.md §6). The worker therefore
reads the namespace's schema at start and hands the workflow machine a ``check_search`` that
refuses unknown names and values of the wrong type with a catchable ``Invalid`` error.

Typing follows the schema when the name is known (a string may go to a Text or a Keyword
attribute), and otherwise the Lua value (spec workflows.md §12): string -> Keyword, boolean ->
Bool, integral number -> Int, other number -> Double, array of strings -> KeywordList.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

from ..core.machine import search_attribute_type
from ..errors import ConfigError, Failure, invalid

Schema = dict[str, str]  # attribute name -> Text | Keyword | Int | Double | Bool | Datetime | KeywordList

TYPES = {
    int(IndexedValueType.INDEXED_VALUE_TYPE_TEXT): "Text",
    int(IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD): "Keyword",
    int(IndexedValueType.INDEXED_VALUE_TYPE_INT): "Int",
    int(IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE): "Double",
    int(IndexedValueType.INDEXED_VALUE_TYPE_BOOL): "Bool",
    int(IndexedValueType.INDEXED_VALUE_TYPE_DATETIME): "Datetime",
    int(IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST): "KeywordList",
}
TYPE_IDS = {name: value for value, name in TYPES.items()}


async def fetch_schema(client: Client, namespace: str) -> Schema:
    """The namespace's custom search attributes (system ones cannot be upserted)."""
    resp = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    return {name: TYPES.get(int(kind), "Keyword") for name, kind in resp.custom_attributes.items()}


async def register_missing(client: Client, namespace: str, wanted: Mapping[str, str], schema: Schema) -> list[str]:
    """Add the ``wanted`` attributes the namespace lacks; return notes about what happened."""
    notes: list[str] = []
    missing: dict[str, Any] = {}
    for name, kind in wanted.items():
        if kind not in TYPE_IDS:
            raise ConfigError(f"search attribute {name}: unknown type {kind!r} (one of {', '.join(TYPE_IDS)})")
        have = schema.get(name)
        if have is None:
            missing[name] = TYPE_IDS[kind]
        elif have != kind:
            notes.append(f"search attribute {name} is {have} in namespace {namespace}, not {kind} as declared")
    if not missing:
        return notes
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    except Exception as exc:
        notes.append(f"could not register search attributes {', '.join(sorted(missing))}: {exc}")
        return notes
    for name, kind_id in missing.items():
        schema[name] = TYPES[kind_id]
    notes.append(f"registered search attributes {', '.join(sorted(missing))} in namespace {namespace}")
    return notes


def schema_from_history(history: WorkflowHistory) -> Schema:
    """The attributes a recorded run upserted or started with, typed as recorded.

    Used when replaying without a server: a name the run set successfully was registered then,
    and a name it never set was refused then (or never used), so the check gives the same
    answers it gave when the history was written.
    """
    schema: Schema = {}

    def add(fields: Any) -> None:
        for name, payload in fields.items():
            kind = payload.metadata.get("type", b"Keyword").decode("utf-8", "replace")
            schema[name] = kind if kind in TYPE_IDS else "Keyword"

    for event in history.events:
        if event.HasField("workflow_execution_started_event_attributes"):
            add(event.workflow_execution_started_event_attributes.search_attributes.indexed_fields)
        elif event.HasField("upsert_workflow_search_attributes_event_attributes"):
            add(event.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
    return schema


def convert(kind: str, value: Any) -> Any:
    """``value`` as the Python type of a ``kind`` attribute; ValueError if it cannot hold it."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in ("Keyword", "Text") and isinstance(value, str):
        return value
    if kind == "Int" and number and float(value).is_integer():
        return int(value)
    if kind == "Double" and number:
        return float(value)
    if kind == "Bool" and isinstance(value, bool):
        return value
    if kind == "KeywordList":
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    if kind == "Datetime" and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"a {kind} search attribute cannot hold {value!r}")


def _key(name: str, kind: str) -> SearchAttributeKey[Any]:
    makers: dict[str, Callable[[str], SearchAttributeKey[Any]]] = {
        "Text": SearchAttributeKey.for_text,
        "Keyword": SearchAttributeKey.for_keyword,
        "Int": SearchAttributeKey.for_int,
        "Double": SearchAttributeKey.for_float,
        "Bool": SearchAttributeKey.for_bool,
        "Datetime": SearchAttributeKey.for_datetime,
        "KeywordList": SearchAttributeKey.for_keyword_list,
    }
    return makers[kind](name)


def _kind(name: str, value: Any, schema: Mapping[str, str] | None) -> str:
    kind = (schema or {}).get(name) or search_attribute_type(value)
    if kind is None:
        raise ValueError(f"search attribute {name}: unsupported value type")
    return kind


def updates(values: Mapping[str, Any], schema: Mapping[str, str] | None) -> list[SearchAttributeUpdate[Any]]:
    """Typed updates for ``workflow.upsert_search_attributes``."""
    out: list[SearchAttributeUpdate[Any]] = []
    for name, value in values.items():
        kind = _kind(name, value, schema)
        out.append(_key(name, kind).value_set(convert(kind, value)))
    return out


def typed(values: Mapping[str, Any], schema: Mapping[str, str] | None) -> TypedSearchAttributes:
    """Typed attributes for a workflow start (top-level or child)."""
    pairs: list[SearchAttributePair[Any]] = []
    for name, value in values.items():
        kind = _kind(name, value, schema)
        pairs.append(SearchAttributePair(_key(name, kind), convert(kind, value)))
    return TypedSearchAttributes(pairs)


#: Registers one attribute (name, type) in the namespace; True once the schema has it.
Register = Callable[[str, str], bool]


def auto_type(value: Any) -> str | None:
    """The type an attribute first seen with ``value`` is registered with. Any number is a
    Double: it holds 30 and 30.5 alike, where an Int registered for 30 would refuse 30.5 later
    (declare ``Int`` in ``meta.search_attributes`` to have one)."""
    kind = search_attribute_type(value)
    return "Double" if kind == "Int" else kind


_SEARCH_TABLE = re.compile(r"\bsearch\s*=\s*\{")
_FIELD = re.compile(r"(?:^|,|;)\s*\[?[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?\]?\s*=\s*")


def _literal_type(text: str) -> str | None:
    text = text.strip()
    if text[:1] in ("'", '"'):
        return "Keyword"
    if text in ("true", "false"):
        return "Bool"
    if re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text):
        return "Double"
    if text.startswith("{") and re.fullmatch(r"\{\s*(['\"][^'\"]*['\"]\s*,?\s*)*\}", text):
        return "KeywordList"
    return None


def used_in(sources: Iterable[str]) -> dict[str, str | None]:
    """Search attributes that workflow code sets with ``workflow.attrs{search = {...}}``: name ->
    type of its literal value, or None when the value is computed (typed at first use)."""
    found: dict[str, str | None] = {}
    for source in sources:
        for match in _SEARCH_TABLE.finditer(source):
            body, depth, i = [], 1, match.end()
            while i < len(source) and depth:
                ch = source[i]
                depth += {"{": 1, "}": -1}.get(ch, 0)
                if depth:
                    body.append(ch if depth == 1 or ch not in ",;" else " ")
                i += 1
            text = "".join(body)
            names = list(_FIELD.finditer(text))
            for n, field_match in enumerate(names):
                end = names[n + 1].start() if n + 1 < len(names) else len(text)
                kind = _literal_type(text[field_match.end() : end])
                if found.get(field_match.group(1)) is None:
                    found[field_match.group(1)] = kind
    return found


def checker(
    schema: Mapping[str, str], namespace: str, register: Register | None = None
) -> Callable[[dict[str, Any]], Failure | None]:
    """The machine's ``check_search``: names must exist in ``schema`` (or be registered now, when
    ``register`` may) and values fit their type."""

    def check(search: dict[str, Any]) -> Failure | None:
        for name, value in search.items():
            kind = schema.get(name)
            if kind is None and register is not None:
                wanted = auto_type(value)
                if wanted is not None and register(name, wanted):
                    kind = schema.get(name)
            if kind is None:
                guess = search_attribute_type(value) or "Keyword"
                return invalid(
                    f"search attribute {name} is not registered in Temporal namespace {namespace} "
                    f"(register it: temporal operator search-attribute create --name {name} --type {guess})"
                )
            try:
                convert(kind, value)
            except ValueError as exc:
                return invalid(f"search attribute {name}: {exc}")
        return None

    return check
