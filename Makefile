# Handshake — the two commands a newcomer needs: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test lint typecheck pytest system-deps bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

system-deps:
	bash scripts/system-deps.sh

# Until the classroom server exists, `serve` runs the engine's demo TLS server:
# it makes a demo CA (written to handshake-ca.pem) and answers HTTPS on :8443.
serve: venv
	$(BIN)/handshake-game listen --host 127.0.0.1 --port 8443 --hostname localhost --ca-out handshake-ca.pem

lint: venv
	$(BIN)/ruff check handshake_game tests bench alembic

typecheck: venv
	$(BIN)/mypy

pytest: venv system-deps
	$(BIN)/pytest -q

test: venv system-deps lint typecheck pytest

bench: venv
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
