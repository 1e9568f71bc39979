"""Persistence: SQLModel tables, the fact-log repository, and the facts' JSON codec.

The server appends a move's facts (``Store.append_facts``) before it acknowledges the
move, and replays every live table at restart (``Store.replay_table``). Migrations live
in ``alembic/`` at the project root; ``Store.upgrade`` runs them.
"""

from .codec import FactDecodeError, fact_from_json, fact_to_json
from .repository import (
    DEFAULT_URL,
    SeqConflict,
    Store,
    StoreError,
    UnknownTable,
    hash_token,
    verify_token,
)

__all__ = [
    "DEFAULT_URL",
    "FactDecodeError",
    "SeqConflict",
    "Store",
    "StoreError",
    "UnknownTable",
    "fact_from_json",
    "fact_to_json",
    "hash_token",
    "verify_token",
]
