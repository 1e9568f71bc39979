"""Facts to JSON and back: the fact log's storage format.

A fact becomes ``{"type": "ItemStored", ...fields}``: bytes as lowercase hex, enums as
their value, ``None`` kept as ``null``. Decoding is generic: a registry built from the
members of ``game.facts.Fact`` and each field's type annotation says how to rebuild every
value, so a new fact type needs no change here as long as its fields are simple types
(str, int, bool, bytes, the game's enums, or ``X | None`` of those).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any

from ..game import facts as game_facts
from ..game.facts import Fact


class FactDecodeError(ValueError):
    """A stored payload that is not a fact of the game's vocabulary."""


def _registry() -> dict[str, tuple[type, dict[str, Any]]]:
    registry: dict[str, tuple[type, dict[str, Any]]] = {}
    for cls in typing.get_args(Fact):
        hints = typing.get_type_hints(cls, vars(game_facts))
        registry[cls.__name__] = (cls, {f.name: hints[f.name] for f in dataclasses.fields(cls)})
    return registry


FACT_TYPES = _registry()
"""Fact type name -> (the dataclass, its field names and annotated types)."""


def _encode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, str | int | float):  # bool is an int
        return value
    raise TypeError(f"a fact field holds {type(value).__name__}, which the codec does not store")


def _decode(annotation: Any, value: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        if value is None:
            return None
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) != 1:
            raise TypeError(f"the codec decodes only `X | None` unions, not {annotation}")
        return _decode(members[0], value)
    if annotation is bytes:
        if not isinstance(value, str):
            raise FactDecodeError(f"expected hex, got {value!r}")
        return bytes.fromhex(value)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation(value)
    if annotation in (str, int, bool, float):
        if type(value) is not annotation and not (annotation is float and type(value) is int):
            raise FactDecodeError(f"expected {annotation.__name__}, got {value!r}")
        return value
    raise TypeError(f"the codec cannot decode a field annotated {annotation}")


def fact_to_json(fact: Fact) -> dict[str, Any]:
    """The fact as a JSON-ready dict, its ``type`` first."""
    encoded: dict[str, Any] = {"type": type(fact).__name__}
    for field in dataclasses.fields(fact):
        encoded[field.name] = _encode(getattr(fact, field.name))
    return encoded


def fact_from_json(payload: dict[str, Any]) -> Fact:
    """Rebuild a fact from ``fact_to_json``'s dict; raise ``FactDecodeError`` on anything else."""
    name = payload.get("type")
    if not isinstance(name, str) or name not in FACT_TYPES:
        raise FactDecodeError(f"unknown fact type {name!r}")
    cls, annotations = FACT_TYPES[name]
    unknown = set(payload) - set(annotations) - {"type"}
    if unknown:
        raise FactDecodeError(f"{name} has no field(s) {sorted(unknown)}")
    values: dict[str, Any] = {}
    for field_name, annotation in annotations.items():
        if field_name in payload:
            try:
                values[field_name] = _decode(annotation, payload[field_name])
            except ValueError as error:  # bad hex, unknown enum value
                raise FactDecodeError(f"{name}.{field_name}: {error}") from error
    try:
        fact: Fact = cls(**values)
    except TypeError as error:  # a required field is missing
        raise FactDecodeError(f"{name}: {error}") from error
    return fact
