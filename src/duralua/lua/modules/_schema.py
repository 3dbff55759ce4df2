"""JSON Schema validation for ``json.validate`` / ``json.validate_string``, on ``jsonschema``.

The draft is the schema's ``$schema`` (2020-12 when absent); ``$ref`` resolves inside the schema
(``#/$defs/...``, ``$id``/``$anchor``) and to the JSON Schema meta-schemas, never over the
network: nothing is fetched, so a run cannot hang on a URL or depend on one. ``format`` is
asserted for the formats the installed checkers know (``date-time``, ``date``, ``time``,
``email``, ``ipv4``, ``ipv6``, ``uri``, ``uri-reference``, ``uuid``, ``regex``...); other formats
are annotations, as the JSON Schema specification has it.

Lua tables cannot tell an empty array from an empty object: an empty table is ``[]`` to Python.
In a schema written as a Lua table an empty table where a schema or a map of schemas belongs
(``properties = {}``, ``items = {}``) is the empty object it must be; in a value, an empty table
matches both ``"array"`` and ``"object"``. Tables that ``json.decode`` made remember they were
objects and stay objects.

``jsonschema`` is imported on the first validation: a runtime that never validates does not
load it.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from ...codec import MAX_DEPTH, dumps

MAX_REPORTED = 10
MAX_MESSAGE = 300

# Keywords whose value is one schema, a map of schemas, or a list of schemas (all drafts).
_SCHEMA = frozenset(
    (
        "additionalItems", "additionalProperties", "contains", "contentSchema", "else", "if", "items", "not",
        "propertyNames", "then", "unevaluatedItems", "unevaluatedProperties",
    )
)  # fmt: skip
_SCHEMA_MAP = frozenset(("$defs", "definitions", "dependentSchemas", "patternProperties", "properties"))
_SCHEMA_LIST = frozenset(("allOf", "anyOf", "oneOf", "prefixItems"))
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class SchemaProblem(Exception):
    """The schema itself is wrong (not a schema, or a ``$ref`` that leads nowhere)."""


class _EmptyTable(dict[str, Any]):
    """An empty Lua table in a value: an object to every keyword, and an array to the type
    checker; slicing (``additionalItems`` slices arrays) gives nothing."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return []
        return super().__getitem__(key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (list, dict)) and not other

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None


def lua_schema(schema: Any) -> Any:
    """A schema written as a Lua table, with its empty tables read as the schema needs them."""
    if schema == []:
        return {}
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA:
            out[key] = [lua_schema(v) for v in value] if isinstance(value, list) and value else lua_schema(value)
        elif key in _SCHEMA_MAP:
            out[key] = {k: lua_schema(v) for k, v in value.items()} if isinstance(value, dict) else _object(value)
        elif key in _SCHEMA_LIST:
            out[key] = [lua_schema(v) for v in value] if isinstance(value, list) else value
        elif key == "dependencies" and isinstance(value, dict):
            out[key] = {k: (lua_schema(v) if isinstance(v, dict) else v) for k, v in value.items()}
        elif key == "dependentRequired":
            out[key] = _object(value)
        else:
            out[key] = value
    return out


def _object(value: Any) -> Any:
    return {} if value == [] else value


def lua_value(value: Any) -> Any:
    """A value converted from Lua, its empty tables made both arrays and objects."""
    if isinstance(value, list):
        return [lua_value(v) for v in value] if value else _EmptyTable()
    if isinstance(value, dict):
        return {k: lua_value(v) for k, v in value.items()}
    return value


def _is_array(checker: Any, instance: Any) -> bool:
    return isinstance(instance, (list, _EmptyTable))


@functools.lru_cache(maxsize=128)
def _validator(schema_text: str, from_lua: bool) -> Any:
    """A compiled validator per (canonical schema, value kind): a workflow that validates in a
    loop compiles its schema once."""
    import referencing
    from jsonschema import validators
    from jsonschema.exceptions import SchemaError

    schema = json.loads(schema_text)
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise SchemaProblem(f"{_path(exc.absolute_path)}: {_short(exc.message)}") from None
    if from_lua:
        # the stubs leave extend() untyped
        cls = validators.extend(  # type: ignore[no-untyped-call]
            cls, type_checker=cls.TYPE_CHECKER.redefine("array", _is_array)
        )
    # An empty registry: jsonschema adds the meta-schemas and, unlike its default, fetches nothing.
    return cls(schema, registry=referencing.Registry(), format_checker=cls.FORMAT_CHECKER)


def problems(schema: Any, value: Any, from_lua: bool) -> list[dict[str, str]]:
    """The first problems of ``value`` against ``schema`` (``[]`` when valid), each
    ``{path, message, keyword}``. ``from_lua``: ``value`` was converted from a Lua value."""
    from referencing.exceptions import Unresolvable

    if not isinstance(schema, (dict, bool)):
        raise SchemaProblem(f"a schema is an object or a boolean, not {_json_type(schema)}")
    validator = _validator(dumps(schema), from_lua)
    out: list[dict[str, str]] = []
    try:
        for error in validator.iter_errors(lua_value(value) if from_lua else value):
            path, message = _path(error.absolute_path), _short(error.message)
            out.append({"path": path, "message": message, "keyword": str(error.validator)})
            if len(out) == MAX_REPORTED:
                break
    except Unresolvable as exc:
        raise SchemaProblem(f"unresolvable $ref: {_short(str(exc))}") from None
    except RecursionError:  # a schema whose $refs loop without consuming the value
        raise SchemaProblem("validation recursed too deep (a $ref cycle that consumes nothing?)") from None
    return out


def depth(value: Any) -> int:
    """How deep ``value`` nests (iteratively: a JSON text can nest deeper than Python recurses)."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        if isinstance(item, list):
            stack.extend((x, depth + 1) for x in item)
        elif isinstance(item, dict):
            stack.extend((x, depth + 1) for x in item.values())
    return deepest


def _path(parts: Any) -> str:
    """``$.items[1].name``: indexes count from 1, as Lua's do."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        elif _NAME.match(part):
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _short(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    return "a number"
