"""The classroom server: the JSON protocol (``protocol``), the game server core without
websockets (``app``), and the asyncio websockets adapter (``ws``)."""

from .app import GameError, GameServer
from .protocol import PROTOCOL_VERSION, ProtocolError, parse

__all__ = ["PROTOCOL_VERSION", "GameError", "GameServer", "ProtocolError", "parse"]
