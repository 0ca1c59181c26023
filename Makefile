# Two entry points for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint gate mutants bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/quotepipe run --duration 30

test: $(STAMP)
	$(BIN)/python -m pytest -n auto

# the static checks CI runs after the tests: style, types, and the import layers (pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# a test of the tests: each known ring/seqlock bug, applied to a copy, must fail the shm tests
mutants: $(STAMP)
	$(BIN)/python -m tests.ring_mutations

# the perf gate as CI runs it: this checkout's stage chain against GATE_REF (default: the parent
# commit), on instruction counts under valgrind (installed from the system's packages if absent)
GATE_REF ?= HEAD~1
gate: $(STAMP)
	@command -v valgrind >/dev/null || { echo "make gate: installing valgrind"; \
		(apt-get update -qq && apt-get install -y -qq valgrind) >/dev/null; }
	@if git rev-parse --verify -q "$(GATE_REF)^{commit}" >/dev/null; then \
		mkdir -p out && $(BIN)/quotepipe gate --against $(GATE_REF) --counter instructions --json out/gate.json; \
	else echo "make gate: no $(GATE_REF) to compare against (a single-commit clone): skipped"; fi

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache .hypothesis
