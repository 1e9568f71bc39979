"""Bot players: they act only through the same actions a human uses."""

from .players import CarelessBot, HonestBot, play_table

__all__ = ["CarelessBot", "HonestBot", "play_table"]
