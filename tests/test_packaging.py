"""The wheel is enough to serve: built from this tree and installed in a fresh virtualenv,
``handshake-game serve`` runs outside the source tree with its pages, lesson cards and
migrations (installed as data files), and plays a solo table."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[1]


def test_the_installed_wheel_serves_a_game_outside_the_source_tree(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "-w", str(wheels), str(ROOT)], check=True, timeout=300)
    (wheel,) = wheels.glob("handshake_game-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # The libraries come from the package index (pip's cache makes this quick after make test).
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
                   check=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server = subprocess.Popen(
        [str(venv / "bin" / "handshake-game"), "serve", "--host", "127.0.0.1", "--port", "0",
         "--db", f"sqlite:///{elsewhere / 'class.db'}"],
        cwd=elsewhere, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base = ws = None
        for line in server.stdout:
            words = line.split()
            base = base or next((w for w in words if w.startswith("http://")), None)
            ws = ws or next((w for w in words if w.startswith("ws://")), None)
            if line.startswith("Instructor"):
                break
        assert base and ws, server.stderr.read() if server.stderr else "no output"
        with urllib.request.urlopen(base, timeout=30) as page:
            assert b"Handshake" in page.read()
        with urllib.request.urlopen(base + "js/play.js", timeout=30) as script:
            assert script.status == 200
        with connect(ws) as socket:
            socket.send(json.dumps({"type": "hello", "protocol": 1}))
            assert json.loads(socket.recv(timeout=30))["type"] == "welcome"
            socket.send(json.dumps({"type": "solo", "variant": "tls13", "seat": "client", "name": "ana"}))
            assert json.loads(socket.recv(timeout=60))["type"] == "seated"
            view = json.loads(socket.recv(timeout=60))["view"]
            assert view["lesson"]["markdown"]  # the lesson cards came with the wheel
        # The files served are the installed copies, not this checkout's.
        installed = list((venv / "share" / "handshake-game").rglob("*"))
        assert any(p.name == "play.html" for p in installed) and any(p.suffix == ".md" for p in installed)
        assert any(p.parent.name == "versions" for p in installed)
    finally:
        server.terminate()
        server.wait(timeout=30)
