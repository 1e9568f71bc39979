"""`python -m handshake_game` runs the same CLI as `handshake-game`."""

from handshake_game.cli import main

raise SystemExit(main())
