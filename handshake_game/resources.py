"""Where the game's files that are not Python live: the browser pages (``web/``), the lesson
cards (``lessons/``) and the database migrations (``alembic/``).

A source checkout has them beside the package. An installed wheel (``pip install .``, pipx)
carries them as data files under ``<prefix>/share/handshake-game/`` (pyproject.toml's
``[tool.setuptools.data-files]``), so that ``handshake-game serve`` works anywhere. An
environment variable, where one is named, wins over both.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

SHARE = Path("share") / "handshake-game"


def resource_directory(name: str, variable: str | None = None) -> Path:
    """The directory ``name`` (``web``, ``lessons`` or ``alembic``): ``$variable`` when set,
    else the checkout's, else the installed copy's."""
    configured = os.environ.get(variable) if variable else None
    if configured:
        return Path(configured)
    # A source checkout: the package's parent is the project (installed, it is site-packages,
    # where ``alembic`` names the library, not our migrations).
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / name).is_dir():
        return root / name
    return Path(sysconfig.get_path("data")) / SHARE / name
