# Two entry points for a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test tools lint gate mutants bench clean ext

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# the compiled core (setup.py: Cython, built with this machine's C++ compiler), in place;
# a no-op when no .pyx changed since the last build
ext: $(STAMP)
	@$(BIN)/python setup.py --quiet build_ext --inplace 2>&1 | grep -v -e BetaConfiguration -e 'warnings.warn' || true

run: ext
	$(BIN)/quotepipe run --duration 30

test: ext
	$(BIN)/python -m pytest -n auto

# system tools some checks use, from the system's packages when absent (CI runs this first):
# valgrind (the perf gate's instruction counts), promtool (the /metrics lint in test_dashboard)
tools:
	@command -v valgrind >/dev/null || { echo "make tools: installing valgrind"; \
		(apt-get update -qq && apt-get install -y -qq valgrind) >/dev/null; }
	@command -v promtool >/dev/null || { echo "make tools: installing promtool (package prometheus)"; \
		(apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus) >/dev/null; }

# the static checks CI runs after the tests: style, types, and the import layers (pyproject.toml)
lint: ext
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# a test of the tests: each known ring/seqlock bug, applied to a copy, must fail the shm tests
mutants: ext
	$(BIN)/python -m tests.ring_mutations

# the perf gate as CI runs it: this checkout's stage chain against GATE_REF (default: the parent
# commit), on instruction counts under valgrind (installed from the system's packages if absent)
GATE_REF ?= HEAD~1
gate: ext tools
	@if git rev-parse --verify -q "$(GATE_REF)^{commit}" >/dev/null; then \
		mkdir -p out && $(BIN)/quotepipe gate --against $(GATE_REF) --counter instructions --json out/gate.json; \
	else echo "make gate: no $(GATE_REF) to compare against (a single-commit clone): skipped"; fi

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache .hypothesis
