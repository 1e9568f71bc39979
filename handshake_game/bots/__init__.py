"""Bot players: they act only through the same actions a human uses."""

from .players import (
    AttackerBot,
    CarelessBot,
    HonestBot,
    HurriedClientBot,
    ResumingBot,
    TrustingBot,
    house_bot,
    play_table,
)

__all__ = ["AttackerBot", "CarelessBot", "HonestBot", "HurriedClientBot", "ResumingBot", "TrustingBot",
           "house_bot", "play_table"]
