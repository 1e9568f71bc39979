"""Bot players: they act only through the same actions a human uses."""

from .players import AttackerBot, CarelessBot, HonestBot, ResumingBot, TrustingBot, play_table

__all__ = ["AttackerBot", "CarelessBot", "HonestBot", "ResumingBot", "TrustingBot", "play_table"]
