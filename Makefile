# rnnviz: `make run` serves the app, `make serve` serves it to a class, `make test` runs lint and every test.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PORT    ?= 8501
ADDRESS ?= 127.0.0.1
WORKERS ?= $(shell nproc)
REMOTE  ?=

.PHONY: run serve serve-workers test lint bench clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(PY) -m streamlit run app.py --server.address localhost --server.port $(PORT) \
		--server.headless true --browser.gatherUsageStats false

# W Streamlit workers behind HAProxy on ADDRESS:PORT (ADDRESS=0.0.0.0 for a classroom LAN); README.
serve: $(VENV)/.installed
	$(PY) -m deploy.serve --workers $(WORKERS) --address $(ADDRESS) --port $(PORT) $(if $(REMOTE),--remote $(REMOTE))

# Workers only, for another machine behind `make serve REMOTE=...`: ports PORT, PORT+1, ... on ADDRESS.
serve-workers: $(VENV)/.installed
	$(PY) -m deploy.serve --workers-only --workers $(WORKERS) --address $(ADDRESS) --port $(PORT)

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest

bench: $(VENV)/.installed-dev
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) benchmarks/engine.py

clean:
	rm -rf $(VENV) artifacts .pytest_cache .ruff_cache
