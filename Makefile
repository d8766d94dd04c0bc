# Two entry points a person needs: `make run` and `make test`. Each sets up everything it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp

.PHONY: dist-build run test system-deps bench dist clean

$(STAMP): pyproject.toml
	@bash scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

run: $(STAMP)
	$(BIN)/deformity-app $(ARGS)

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)
	$(BIN)/lint-imports

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; QT_QPA_PLATFORM=offscreen $(BIN)/python $$b || exit 1; done

# The program as one folder for machines without Python (PyInstaller, build.spec), checked by its own
# self-test: dist/deformity-app-<version>-<system>-<machine>/. Takes a few minutes.
# the clinic build, then the tests of the built program (tests/frozen) on it
dist: dist-build
	DEFORMITY_BUILD_TEST=1 DEFORMITY_BUILD_REUSE=1 QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests/frozen -q -p no:cacheprovider

dist-build: $(STAMP)
	$(BIN)/python -m pip install --quiet 'pyinstaller>=6.10,<7'
	$(BIN)/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build build.spec
	@folder=dist/$$($(BIN)/python packaging/dist_name.py); \
	  echo "== $$folder ($$(du -sh $$folder | cut -f1))"; \
	  QT_QPA_PLATFORM=offscreen DEFORMITY_APP_HOME=$$(mktemp -d) $$folder/deformity-app --self-test

clean:
	rm -rf $(VENV) build dist *.egg-info test-output
