# Handshake — the two commands a newcomer needs: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve demo test lint typecheck pytest system-deps bench clean

# Serving needs the game and its libraries only; the tests add the dev tools (pytest, ruff,
# mypy, Playwright, tlslite-ng).
$(BIN)/.serving: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(BIN)/.installed: $(BIN)/.serving
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

venv: $(BIN)/.installed

system-deps:
	bash scripts/system-deps.sh

# The classroom server: students open http://127.0.0.1:8765/, the instructor the URL it prints.
# HOST=0.0.0.0 lets a classroom's laptops and phones reach it; the database is handshake.db
# here unless DATABASE_URL says otherwise.
HOST ?= 127.0.0.1
PORT ?= 8765
serve: $(BIN)/.serving
	$(BIN)/handshake-game serve --host $(HOST) --port $(PORT)

# The engine's demo TLS server: a demo CA (written to handshake-ca.pem), HTTPS on :8443.
demo: $(BIN)/.serving
	$(BIN)/handshake-game listen --host 127.0.0.1 --port 8443 --hostname localhost --ca-out handshake-ca.pem

lint: venv
	$(BIN)/ruff check handshake_game tests bench alembic

typecheck: venv
	$(BIN)/mypy

# The store's tests run on SQLite and on a real PostgreSQL, which scripts/postgres.sh installs,
# starts and prints the URL of.
pytest: venv system-deps
	url=$$(bash scripts/postgres.sh) && HANDSHAKE_TEST_PG_URL="$$url" $(BIN)/pytest -q

test: venv system-deps lint typecheck pytest

bench: venv
	$(BIN)/python bench/engine.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
