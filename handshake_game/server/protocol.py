"""The JSON protocol spoken over the websocket: one pydantic model per message type.

Rules:

* Every message is a JSON object with a ``"type"``; each type is a model here, and
  ``docs/protocol.md`` shows an example of each.
* :func:`parse` is the only way raw text becomes a client message. It returns a typed
  message or raises a :class:`ProtocolError` subclass whose ``code`` is what the client
  sees in the ``error`` reply; it never raises anything else.
* A move names a game action by its class name (``handshake_game.game.actions``) and
  gives its fields; :func:`build_action` turns that into the frozen dataclass.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import typing
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from ..game import actions as a
from ..game.model import Difficulty, Scenario, Seat, Variant

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
# A table or class number: the range of the database's integer ids (PostgreSQL's ``integer``),
# so that a number no row can have is a typed ``invalid_fields``, never a database error.
Id = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


# -- errors ----------------------------------------------------------------------------------

class ProtocolError(Exception):
    """Input that is not a valid client message. ``code`` goes on the wire; ``message`` is
    written for the client and never carries internal exception text."""

    code = "protocol_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MessageTooLarge(ProtocolError):
    code = "too_large"


class MalformedJson(ProtocolError):
    code = "malformed_json"


class UnknownType(ProtocolError):
    code = "unknown_type"


class InvalidFields(ProtocolError):
    code = "invalid_fields"


class UnknownAction(ProtocolError):
    code = "unknown_action"


# -- client -> server ----------------------------------------------------------------------

class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hello(_Message):
    type: Literal["hello"] = "hello"
    protocol: Literal[1]


class Solo(_Message):
    type: Literal["solo"] = "solo"
    variant: Variant
    scenario: Scenario = Scenario.HONEST
    difficulty: Difficulty = Difficulty.STANDARD
    seat: Seat
    name: str = Field(min_length=1, max_length=64)


class Resume(_Message):
    """Two forms share the type: a player's reconnect (``table_id`` and their token) and the
    instructor's resume of a paused class (``class_session_id``, optionally one ``table_id``)."""

    type: Literal["resume"] = "resume"
    table_id: Id | None = None
    token: str = Field(min_length=1, max_length=256)
    class_session_id: Id | None = None
    table_ids: list[Id] | None = Field(default=None, max_length=512)  # the instructor's selection

    @model_validator(mode="after")
    def _one_form(self) -> Resume:
        if self.class_session_id is None and self.table_id is None:
            raise ValueError("a player resumes a table_id; the instructor resumes a class_session_id")
        return self


class ActionSpec(_Message):
    name: str = Field(min_length=1, max_length=64)
    fields: dict[str, Any] = Field(default_factory=dict)


class Move(_Message):
    type: Literal["move"] = "move"
    table_id: Id
    token: str = Field(min_length=1, max_length=256)
    seat: Seat | None = None  # optional: the seat the player believes it plays; checked
    action: ActionSpec


class Hint(_Message):
    type: Literal["hint"] = "hint"
    table_id: Id
    token: str = Field(min_length=1, max_length=256)


# -- the class session: students join, the instructor runs it ----------------------------------

class CreateSession(_Message):
    type: Literal["create_session"] = "create_session"
    token: str = Field(min_length=1, max_length=256)
    variant: Variant
    scenario: Scenario = Scenario.HONEST
    difficulty: Difficulty = Difficulty.STANDARD


class Join(_Message):
    type: Literal["join"] = "join"
    join_code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=64)


class QuizAnswer(_Message):
    """A player's answer to one question of a lesson card's quiz (stored as lesson progress)."""

    type: Literal["quiz_answer"] = "quiz_answer"
    table_id: Id
    token: str = Field(min_length=1, max_length=256)
    lesson_id: str = Field(min_length=1, max_length=64)
    question: int = Field(ge=0, le=64)
    choice: int = Field(ge=0, le=64)


class ReadCard(_Message):
    """A player opens a further-reading card offered beside the current one."""

    type: Literal["read_card"] = "read_card"
    table_id: Id
    token: str = Field(min_length=1, max_length=256)
    lesson_id: str = Field(min_length=1, max_length=64)


class WorkbenchRun(_Message):
    """One operation of the expert's workbench, on the seat's own values (``game.workbench``)."""

    type: Literal["workbench"] = "workbench"
    table_id: Id
    token: str = Field(min_length=1, max_length=256)
    op: str = Field(min_length=1, max_length=32)
    args: dict[Annotated[str, Field(max_length=16)], Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=dict, max_length=8)


class _Instructor(_Message):
    token: str = Field(min_length=1, max_length=256)
    class_session_id: Id


class Start(_Instructor):
    type: Literal["start"] = "start"


class Pause(_Instructor):
    type: Literal["pause"] = "pause"
    table_id: Id | None = None  # one table, a selection (table_ids), or every table still playing
    table_ids: list[Id] | None = Field(default=None, max_length=512)


class Inject(_Instructor):
    type: Literal["inject"] = "inject"
    table_id: Id | None = None  # one table, a selection (table_ids), or every table of the round
    table_ids: list[Id] | None = Field(default=None, max_length=512)
    scenario: Scenario


class LeakKey(_Instructor):
    type: Literal["leak_key"] = "leak_key"
    table_id: Id | None = None
    table_ids: list[Id] | None = Field(default=None, max_length=512)


class NextRound(_Instructor):
    """A new round for the same students, seats rotated; it waits for ``start``."""

    type: Literal["next_round"] = "next_round"
    variant: Variant
    scenario: Scenario = Scenario.HONEST
    difficulty: Difficulty = Difficulty.STANDARD


class Settings(_Instructor):
    type: Literal["settings"] = "settings"
    stuck_after: int = Field(ge=10, le=3600)  # seconds without a move before a student is flagged


class StudentRequest(_Instructor):
    type: Literal["student"] = "student"
    player_id: Id


class ClassesRequest(_Message):
    """Every class session of this server's instructor, with their dates."""

    type: Literal["classes"] = "classes"
    token: str = Field(min_length=1, max_length=256)


class Reveal(_Instructor):
    type: Literal["reveal"] = "reveal"
    table_id: Id


class End(_Instructor):
    type: Literal["end"] = "end"


class DashboardRequest(_Instructor):
    type: Literal["dashboard"] = "dashboard"


class MoveSeat(_Instructor):
    """Swap the occupants (player, bot or nobody) of two seats of the class."""

    type: Literal["move_seat"] = "move_seat"
    table_id: Id
    seat: Seat
    to_table_id: Id
    to_seat: Seat


class RotateSeats(_Instructor):
    """Every player of one table (or of every table) moves one seat on."""

    type: Literal["rotate_seats"] = "rotate_seats"
    table_id: Id | None = None


InstructorMessage = (Start | Pause | Inject | LeakKey | Reveal | End | DashboardRequest | MoveSeat
                     | RotateSeats | NextRound | Settings | StudentRequest | ClassesRequest)
AnyClientMessage = (Hello | Solo | Resume | Move | Hint | QuizAnswer | ReadCard | WorkbenchRun | CreateSession
                    | Join | InstructorMessage)
ClientMessage = Annotated[AnyClientMessage, Field(discriminator="type")]
_CLIENT_TYPES = ("hello", "solo", "resume", "move", "hint", "quiz_answer", "read_card", "workbench",
                 "create_session",
                 "join", "start", "pause", "inject", "leak_key", "reveal", "end", "dashboard", "move_seat",
                 "rotate_seats", "next_round", "settings", "student", "classes")
_client_adapter: TypeAdapter[AnyClientMessage] = TypeAdapter(ClientMessage)


# -- server -> client ----------------------------------------------------------------------

class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    protocol: int = PROTOCOL_VERSION
    server: str = "handshake-game"


class Seated(_Message):
    type: Literal["seated"] = "seated"
    table_id: Id
    seat: Seat
    token: str
    class_session_id: Id | None = None  # set when seated through ``join``


class Reseated(_Message):
    """Pushed to a player the instructor moved: their token now holds this seat."""

    type: Literal["reseated"] = "reseated"
    table_id: Id
    seat: Seat
    class_session_id: Id


class QuizResult(_Message):
    type: Literal["quiz_result"] = "quiz_result"
    lesson_id: str
    question: int
    correct: bool
    explanation: str


class CardShown(_Message):
    """A lesson card the player asked for (``read_card``), filled from its seat's own view."""

    type: Literal["card"] = "card"
    table_id: Id
    lesson: dict[str, Any]


class WorkbenchResult(_Message):
    type: Literal["workbench_result"] = "workbench_result"
    op: str
    hex: str
    bytes: int


class SessionCreated(_Message):
    type: Literal["session_created"] = "session_created"
    class_session_id: Id
    join_code: str
    join_url: str | None
    qr_svg: str


class Done(_Message):
    """An instructor action is stored: ``table_ids`` are the tables it changed."""

    type: Literal["done"] = "done"
    action: str
    class_session_id: Id
    table_ids: list[int]


class Dashboard(_Message):
    """The whole class: its settings, join code (and QR code), whether it has started or
    ended, and every table."""

    type: Literal["dashboard"] = "dashboard"
    class_session_id: Id
    tables: list[dict[str, Any]]
    join_code: str | None = None
    join_url: str | None = None
    qr_svg: str | None = None
    variant: str | None = None
    scenario: str | None = None
    difficulty: str | None = None
    started: bool = False
    ended: bool = False
    round: int = 1
    rounds: list[dict[str, Any]] = Field(default_factory=list)
    stuck_after: int | None = None
    students: list[dict[str, Any]] = Field(default_factory=list)


class StudentDetail(_Message):
    type: Literal["student"] = "student"
    class_session_id: Id
    student: dict[str, Any]


class ClassList(_Message):
    type: Literal["classes"] = "classes"
    classes: list[dict[str, Any]]


class TableUpdate(_Message):
    """Pushed to the instructor after every change at one of the class's tables."""

    type: Literal["table_update"] = "table_update"
    class_session_id: Id
    table: dict[str, Any]


class Debrief(_Message):
    type: Literal["debrief"] = "debrief"
    table_id: Id
    debrief: dict[str, Any]


class View(_Message):
    type: Literal["view"] = "view"
    table_id: Id
    view: dict[str, Any]


class Error(_Message):
    type: Literal["error"] = "error"
    code: str
    message: str


ServerMessage = (Welcome | Seated | Reseated | View | Error | SessionCreated | Done | Dashboard | TableUpdate
                 | Debrief | QuizResult | CardShown | WorkbenchResult | StudentDetail | ClassList)


def encode(message: ServerMessage) -> str:
    if isinstance(message, Seated) and message.class_session_id is None:
        return message.model_dump_json(exclude={"class_session_id"})  # solo: as protocol 1 began
    return message.model_dump_json()


# -- parsing ---------------------------------------------------------------------------------

def parse(raw: str | bytes) -> AnyClientMessage:
    """Raw websocket text (or bytes) to a typed client message, or a :class:`ProtocolError`."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(f"a message may be at most {MAX_MESSAGE_BYTES} bytes, this one is {size}")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise MalformedJson("the message is not valid JSON") from None
    if not isinstance(document, dict):
        raise InvalidFields("a message is a JSON object with a \"type\"")
    kind = document.get("type")
    if kind not in _CLIENT_TYPES:
        raise UnknownType(f"unknown message type; expected one of {', '.join(_CLIENT_TYPES)}")
    try:
        return _client_adapter.validate_python(document)
    except ValidationError as error:
        raise InvalidFields(f"{kind}: {_describe(error)}") from None


def _describe(error: ValidationError) -> str:
    """The field errors in words, without echoing the input back."""
    parts = []
    for detail in error.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(part) for part in detail["loc"][1:]) or "message"
        parts.append(f"{where}: {detail['msg']}")
    return "; ".join(parts)


# -- actions ---------------------------------------------------------------------------------

ACTIONS: dict[str, type] = {cls.__name__: cls for cls in typing.get_args(a.Action)}


def build_action(spec: ActionSpec) -> a.Action:
    """The game action named by ``spec``, built from its fields, or a :class:`ProtocolError`."""
    cls = ACTIONS.get(spec.name)
    if cls is None:
        raise UnknownAction(f"no action named {spec.name[:64]!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    extra = sorted(set(spec.fields) - known)
    if extra:
        raise InvalidFields(f"{spec.name} has no field {', '.join(e[:32] for e in extra[:3])}")
    try:
        action: a.Action = _adapter(cls).validate_python(spec.fields)
    except ValidationError as error:
        raise InvalidFields(f"{spec.name}: {_describe_action(error)}") from None
    return action


@functools.cache
def _adapter(cls: type) -> TypeAdapter[Any]:
    return TypeAdapter(cls)  # building one is costly; one per action class


def _describe_action(error: ValidationError) -> str:
    parts = []
    for detail in error.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(part) for part in detail["loc"]) or "fields"
        parts.append(f"{where}: {detail['msg']}")
    return "; ".join(parts)
