"""Byte-level codec for TLS structures (RFC 5246 §4), with field dissection.

:class:`Reader` pulls integers and length-prefixed vectors from a buffer and raises
:class:`DecodeError` (the ``decode_error`` alert) on any short or malformed input.
When built with ``dissect=True`` it also records every field it reads as a
:class:`Field` — name, offset, length, value, one-line explanation — so the byte
inspector and the CLI trace are produced by the very code that decodes the bytes.
:class:`Writer` is the mirror image for encoding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .alerts import AlertDecodeError


class DecodeError(AlertDecodeError):
    """Input bytes do not form the structure being decoded."""


@dataclass(frozen=True)
class Field:
    """One named field of a dissected message; groups hold children."""

    name: str
    offset: int
    length: int
    value: str = ""
    explanation: str = ""
    children: tuple[Field, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "offset": self.offset,
            "length": self.length,
            "value": self.value,
            "explanation": self.explanation,
            "children": [child.to_dict() for child in self.children],
        }

    def find(self, name: str) -> Field | None:
        """The first field called ``name`` in this tree, depth first."""
        if self.name == name:
            return self
        for child in self.children:
            found = child.find(name)
            if found is not None:
                return found
        return None

    def walk(self, depth: int = 0) -> Iterator[tuple[int, Field]]:
        yield depth, self
        for child in self.children:
            yield from child.walk(depth + 1)


@dataclass
class _Group:
    name: str
    offset: int
    explanation: str
    value: str = ""
    children: list[Field] = field(default_factory=list)


Describe = Callable[[int], str] | None


def short_hex(data: bytes, limit: int = 32) -> str:
    if len(data) <= limit:
        return data.hex()
    return f"{data[:limit].hex()}… ({len(data)} bytes)"


class Reader:
    """Pulls TLS wire structures from ``data``; optionally records a dissection."""

    __slots__ = ("_data", "_pos", "_end", "_base", "_stack", "_ends")

    def __init__(self, data: bytes, *, dissect: bool = False, base_offset: int = 0) -> None:
        self._data = data
        self._pos = 0
        self._end = len(data)
        self._base = base_offset
        self._stack: list[_Group] | None = [_Group("", 0, "")] if dissect else None
        self._ends: list[int] = []

    # -- position ---------------------------------------------------------
    @property
    def position(self) -> int:
        return self._pos

    def remaining(self) -> int:
        return self._end - self._pos

    def eof(self) -> bool:
        return self._pos >= self._end

    def raw_since(self, start: int) -> bytes:
        return bytes(self._data[start : self._pos])

    def expect_end(self, what: str) -> None:
        if self._pos != self._end:
            raise DecodeError(f"{self._end - self._pos} trailing bytes after {what}")

    def _take(self, n: int, what: str) -> bytes:
        if n < 0 or self._pos + n > self._end:
            raise DecodeError(f"{what}: needs {n} bytes, {self._end - self._pos} left")
        chunk = self._data[self._pos : self._pos + n]
        self._pos += n
        return chunk

    def _record(
        self, name: str, start: int, value: str, explanation: str, children: tuple[Field, ...] = ()
    ) -> None:
        if self._stack is not None:
            self._stack[-1].children.append(
                Field(name, self._base + start, self._pos - start, value, explanation, children)
            )

    # -- scalars ----------------------------------------------------------
    def _uint(self, size: int, name: str, explain: str, describe: Describe) -> int:
        start = self._pos
        value = int.from_bytes(self._take(size, name), "big")
        if self._stack is not None:
            shown = describe(value) if describe is not None else str(value)
            self._record(name, start, shown, explain)
        return value

    def uint8(self, name: str, explain: str = "", describe: Describe = None) -> int:
        return self._uint(1, name, explain, describe)

    def uint16(self, name: str, explain: str = "", describe: Describe = None) -> int:
        return self._uint(2, name, explain, describe)

    def uint24(self, name: str, explain: str = "", describe: Describe = None) -> int:
        return self._uint(3, name, explain, describe)

    def fixed(self, size: int, name: str, explain: str = "") -> bytes:
        start = self._pos
        value = self._take(size, name)
        if self._stack is not None:
            self._record(name, start, short_hex(value), explain)
        return value

    def vector(
        self, length_size: int, name: str, explain: str = "", *, minimum: int = 0,
        maximum: int | None = None,
    ) -> bytes:
        """opaque name<minimum..maximum> with a ``length_size``-byte length prefix."""
        start = self._pos
        length = int.from_bytes(self._take(length_size, f"{name} length"), "big")
        if length < minimum or (maximum is not None and length > maximum):
            raise DecodeError(f"{name}: length {length} outside {minimum}..{maximum}")
        value = self._take(length, name)
        if self._stack is not None:
            self._record(name, start, short_hex(value), explain)
        return value

    def rest(self, name: str, explain: str = "") -> bytes:
        return self.fixed(self._end - self._pos, name, explain)

    # -- structure --------------------------------------------------------
    def group(self, name: str, explain: str = "",
              value: str = "") -> contextlib.AbstractContextManager[None]:
        """Nest the fields read inside the block under one named field."""
        if self._stack is None:
            return _NO_GROUP
        return self._group(name, explain, value)

    @contextlib.contextmanager
    def _group(self, name: str, explain: str, value: str) -> Iterator[None]:
        assert self._stack is not None
        self._stack.append(_Group(name, self._pos, explain, value))
        try:
            yield
        finally:
            grp = self._stack.pop()
            self._record(grp.name, grp.offset, grp.value, grp.explanation, tuple(grp.children))

    def bounded(self, length_size: int, name: str, explain: str = "",
                minimum: int = 0) -> _Bounded:
        """A length-prefixed vector whose contents are decoded field by field."""
        start = self._pos
        length = int.from_bytes(self._take(length_size, f"{name} length"), "big")
        if length < minimum or self._pos + length > self._end:
            raise DecodeError(f"{name}: bad length {length}")
        if self._stack is not None:
            self._stack.append(_Group(name, start, explain, f"{length} bytes"))
        self._ends.append(self._end)
        self._end = self._pos + length
        return _Bounded(self, name)

    @property
    def dissecting(self) -> bool:
        return self._stack is not None

    def annotate(self, value: str) -> None:
        """Set the displayed value of the innermost open group."""
        if self._stack is not None:
            self._stack[-1].value = value

    def fields(self) -> tuple[Field, ...]:
        if self._stack is None:
            return ()
        return tuple(self._stack[0].children)


_NO_GROUP: contextlib.AbstractContextManager[None] = contextlib.nullcontext()


class _Bounded:
    """Closes a :meth:`Reader.bounded` vector: all of it must have been decoded."""

    __slots__ = ("_reader", "_name")

    def __init__(self, reader: Reader, name: str) -> None:
        self._reader = reader
        self._name = name

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        r = self._reader
        try:
            if exc_type is None and r._pos != r._end:
                raise DecodeError(f"{self._name}: {r._end - r._pos} bytes left undecoded")
        finally:
            r._end = r._ends.pop()
            if r._stack is not None:
                grp = r._stack.pop()
                r._record(grp.name, grp.offset, grp.value, grp.explanation, tuple(grp.children))


class Writer:
    """Builds TLS wire structures; the mirror of :class:`Reader`."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def uint8(self, value: int) -> None:
        self._parts.append(value.to_bytes(1, "big"))

    def uint16(self, value: int) -> None:
        self._parts.append(value.to_bytes(2, "big"))

    def uint24(self, value: int) -> None:
        self._parts.append(value.to_bytes(3, "big"))

    def raw(self, data: bytes) -> None:
        self._parts.append(data)

    def vector(self, length_size: int, data: bytes) -> None:
        if len(data) >= 1 << (8 * length_size):
            raise ValueError(f"{len(data)} bytes do not fit a {length_size}-byte length")
        self._parts.append(len(data).to_bytes(length_size, "big"))
        self._parts.append(data)

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


def encode_vector(length_size: int, data: bytes) -> bytes:
    if len(data) >= 1 << (8 * length_size):
        raise ValueError(f"{len(data)} bytes do not fit a {length_size}-byte length")
    return len(data).to_bytes(length_size, "big") + data
