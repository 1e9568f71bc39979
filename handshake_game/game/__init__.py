"""The game's rules, sans-I/O: variants and their step catalog, seats and wallets, actions,
facts, the referee (which checks every move with handshake_game.tls), and views.

Modules, each with one job: ``model`` (the vocabulary), ``catalog`` (every step, once),
``rules`` (rejections, points, verdicts), ``state`` and ``fold`` (a table is the fold of
its facts), ``referee`` (``decide``, ``finish_table``), one module per phase (``ca``,
``tls12``, ``tls13``, ``eavesdropper``, with ``wire``, ``records`` and ``handshake`` as
their shared helpers), ``instructor``, ``views``, ``guide``, ``menu`` and ``sharing``.
"""

from .catalog import CATALOG, catalog_json, steps_for
from .fold import apply, replay
from .instructor import inject_scenario, leak_server_key, pause, resume, reveal_debrief
from .model import Difficulty, Scenario, Seat, Variant
from .referee import decide, finish_table, open_table, score_quiz
from .rules import Code, Referee, Rejected, Step
from .state import TableState
from .views import alerts, debrief, in_the_dark, ladder, reveal, view, visible_steps

__all__ = [
    "CATALOG",
    "Code",
    "Difficulty",
    "Referee",
    "Rejected",
    "Scenario",
    "Seat",
    "Step",
    "TableState",
    "Variant",
    "alerts",
    "apply",
    "catalog_json",
    "decide",
    "finish_table",
    "inject_scenario",
    "ladder",
    "leak_server_key",
    "open_table",
    "pause",
    "reveal_debrief",
    "replay",
    "resume",
    "reveal",
    "score_quiz",
    "visible_steps",
    "in_the_dark",
    "debrief",
    "steps_for",
    "view",
]
