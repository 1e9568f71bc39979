"""The network tools on top of the engine: `connect`, `listen`, and their trace."""
