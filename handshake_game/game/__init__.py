"""The game's rules, sans-I/O: variants and their steps, seats and wallets, actions,
facts, the referee (which checks every move with handshake_game.tls), and views."""

from .model import CATALOG, Difficulty, Scenario, Seat, Step, Variant
from .table import (
    Referee,
    Rejected,
    TableState,
    apply,
    decide,
    inject_scenario,
    leak_server_key,
    open_table,
    pause,
    replay,
    resume,
    reveal,
    view,
)

__all__ = [
    "CATALOG",
    "Difficulty",
    "Referee",
    "Rejected",
    "Scenario",
    "Seat",
    "Step",
    "TableState",
    "Variant",
    "apply",
    "decide",
    "inject_scenario",
    "leak_server_key",
    "pause",
    "resume",
    "reveal",
    "open_table",
    "replay",
    "view",
]
