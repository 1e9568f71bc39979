"""Handshake: a multiplayer teaching game for the TLS handshake, played with real TLS."""

__version__ = "0.1.0"
