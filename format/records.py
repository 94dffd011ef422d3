"""Typed JSON records: one walker over a dataclass's field types that loads, checks, writes and
describes (as JSON Schema) the records of ``vaekit.json``.

A record is a frozen dataclass whose fields are JSON values: ``str``, ``int``, ``float``,
``bool``, ``tuple[T, ...]`` (a JSON array), ``dict[str, T]`` (an object of T), another record,
``X | None`` (optional: absent from the file when None) and ``Any`` (kept as written: provenance
and measurements no consumer acts on). A field without a default is required. A field with
``metadata={"flatten": True}`` holds a record whose keys sit in the parent's object. A record's
``NULLABLE`` names the optional fields written as ``null`` when None (the others are left out).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

REEXPORT = "re-export with `python -m vaekit.export CHECKPOINT`"


def is_record(t: Any) -> bool:
    return isinstance(t, type) and dataclasses.is_dataclass(t)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _optional(t: Any) -> tuple[bool, Any]:
    """``(True, X)`` for ``X | None``, else ``(False, t)``."""
    args = typing.get_args(t)
    if typing.get_origin(t) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return True, (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)])
    return False, t


def _flat(f: dataclasses.Field) -> bool:
    return bool(f.metadata.get("flatten"))


def keys_of(cls: type) -> set[str]:
    """The JSON keys a record's object takes (a flattened sub-record's keys included)."""
    hints, out = _hints(cls), set()
    for f in dataclasses.fields(cls):
        out |= keys_of(_optional(hints[f.name])[1]) if _flat(f) else {f.name}
    return out


def _name(t: Any) -> str:
    return getattr(t, "__name__", None) or str(t).replace("typing.", "")


def check(t: Any, value: Any, where: str) -> Any:
    """``value`` checked against the type ``t`` (records and tuples built); ValueError naming
    ``where`` otherwise."""
    optional, t = _optional(t)
    if value is None:
        if optional or t is Any:
            return None
        raise ValueError(f"{where} must not be null")
    if t is Any:
        return value
    if is_record(t):
        return t.load(value, where=where)
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return check(option, value, where)
            except ValueError:
                continue
        raise ValueError(f"{where} must be one of {[_name(a) for a in args]}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where} must be a list, got {value!r}")
        return tuple(check(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise ValueError(f"{where} must be an object, got {value!r}")
        return {k: check(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if t is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif t is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, t)
    if not ok:
        raise ValueError(f"{where} must be {'a number' if t is float else _name(t)}, got {value!r}")
    return value


def load_record(cls: type, entry: Any, *, where: str) -> Any:
    """The record ``cls`` from its JSON object: unknown keys, missing required keys and values
    of the wrong type are errors naming ``where`` and the key."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where or 'the contract'} must be an object, got {entry!r}")
    unknown = sorted(set(entry) - keys_of(cls))
    if unknown:
        raise ValueError(f"{where or 'the contract'} has unknown keys {unknown} (this vaekit does not know them: a newer "
                         f"export, or a hand edit); {REEXPORT} with this vaekit")
    hints, values = _hints(cls), {}
    for f in dataclasses.fields(cls):
        t = hints[f.name]
        if _flat(f):
            optional, sub_cls = _optional(t)
            sub = {k: entry[k] for k in keys_of(sub_cls) if k in entry}
            values[f.name] = None if optional and not sub else sub_cls.load(sub, where=where)
            continue
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if f.name not in entry:
            if required:
                raise ValueError(f"{where or 'the contract'} lacks {f.name!r}; {REEXPORT}")
            continue
        values[f.name] = check(t, entry[f.name], f"{where}.{f.name}" if where else f.name)
    return cls(**values)


def dump(value: Any) -> Any:
    """A record, tuple or container as plain JSON values."""
    if is_record(type(value)):
        return value.to_dict()
    if isinstance(value, tuple):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    return value


def record_dict(record: Any) -> dict[str, Any]:
    """A record's JSON object: None-valued optional fields left out, flattened ones spread."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if _flat(f):
            out.update(value.to_dict() if value is not None else {})
        elif value is not None or f.name in getattr(record, "NULLABLE", ()):
            out[f.name] = dump(value)
    return out



class JsonRecord:
    """``load`` and ``to_dict`` of a frozen dataclass record (:func:`load_record`,
    :func:`record_dict`); a subclass names itself in errors with ``WHERE``."""

    WHERE = "record"

    @classmethod
    def load(cls, entry: Any, *, where: str | None = None) -> Any:
        return load_record(cls, entry, where=cls.WHERE if where is None else where)

    def to_dict(self) -> dict[str, Any]:
        return record_dict(self)

# ----------------------------------------------------------------------------- JSON Schema

_JSON = {str: "string", int: "integer", float: "number", bool: "boolean"}


def schema_of(t: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """The JSON Schema of the type ``t``; records go into ``defs`` and are referenced."""
    optional, t = _optional(t)
    if t is Any:
        out: dict[str, Any] = {}
    elif is_record(t):
        if t.__name__ not in defs:
            defs[t.__name__] = {}  # placeholder: a record may refer to itself
            defs[t.__name__] = record_schema(t, defs)
        out = {"$ref": f"#/$defs/{t.__name__}"}
    elif typing.get_origin(t) in (typing.Union, types.UnionType):
        out = {"anyOf": [schema_of(a, defs) for a in typing.get_args(t)]}
    elif typing.get_origin(t) is tuple:
        out = {"type": "array", "items": schema_of(typing.get_args(t)[0], defs)}
    elif typing.get_origin(t) is dict:
        out = {"type": "object", "additionalProperties": schema_of(typing.get_args(t)[1], defs)}
    else:
        out = {"type": _JSON[t]}
    return {"anyOf": [out, {"type": "null"}]} if optional and out else out


def record_schema(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    """``{"type": "object", "properties": ..., "required": ..., "additionalProperties": false}``."""
    hints, props, required = _hints(cls), {}, []
    for f in dataclasses.fields(cls):
        t = hints[f.name]
        if _flat(f):
            sub = record_schema(_optional(t)[1], defs)
            props.update(sub["properties"])
            required += sub["required"]
            continue
        props[f.name] = schema_of(t, defs)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
    return {"type": "object", "properties": dict(sorted(props.items())), "required": sorted(required),
            "additionalProperties": False}
