# `make demo` and `make test` work on a fresh machine: they create .venv and install what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint chromium espeak editors vsix bench bytecode fmt docs grammar clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	$(MAKE) --no-print-directory bytecode
	touch $(STAMP)

# The package byte-compiled, as `pip install` of the wheel leaves it: every command starts without
# compiling ~150 modules first (an editable install under PYTHONDONTWRITEBYTECODE never writes them).
bytecode:
	$(BIN)/python -m compileall -q storyboard

DEMO := examples/kitten-general/kitten-general.story

# The animatic's scratch voice reads dialogue with espeak-ng when it is installed: root gets it
# from apt; anyone else gets one line and silent animatics (the tone, no voice).
espeak:
	@if command -v espeak-ng >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing espeak-ng for the animatic's scratch voice (apt-get)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null; \
	else \
	  echo "espeak-ng is missing (root can run: apt-get install -y espeak-ng): animatics will have no scratch voice"; \
	fi

demo: $(STAMP) espeak
	@film=$$($(BIN)/storyboard render $(DEMO)) && page=$$($(BIN)/storyboard preview $(DEMO)) && \
	  printf '\nfilm:          %s\npreview page:  %s\n' "$$film" "$$page"

# The browser tests drive Debian's chromium. Tests never install anything themselves: this
# set-up does, as root (a fresh CI machine); anyone else gets one line and those tests skip.
CHROMIUM := /usr/bin/chromium

chromium:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium for the browser tests (apt-get)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "$(CHROMIUM) is missing (root can run: apt-get install -y chromium): the browser tests will be skipped"; \
	fi

# The VS Code extension's node packages (its client library; vscode-textmate and vscode-oniguruma,
# with which tests/test_vscode_grammar.py tokenizes the examples as VS Code does; @vscode/vsce for
# `make vsix`), installed here, never by a test. Without node, one line and those tests skip.
VSCODE := editors/vscode

editors:
	@if ! command -v npm >/dev/null; then \
	  echo "node/npm are missing (apt-get install -y nodejs npm): the VS Code grammar tests will be skipped"; \
	elif [ ! -f $(VSCODE)/node_modules/.package-lock.json ] || [ $(VSCODE)/package.json -nt $(VSCODE)/node_modules/.package-lock.json ]; then \
	  cd $(VSCODE) && npm install --no-audit --no-fund --loglevel=error; \
	fi

# The extension as a .vsix file: install it with `code --install-extension editors/vscode/storyboard-story-*.vsix`.
vsix: editors
	cd $(VSCODE) && npx --no-install vsce package --skip-license --allow-missing-repository

# PYTHONDONTWRITEBYTECODE set to nothing: pytest keeps the test modules it rewrote for their
# asserts (when the variable is set, every run rewrites all of them again: 6 s of the edit loop).
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

test: $(STAMP) chromium editors
	$(PYTEST) -q

# The edit loop: everything except the tests marked slow (they render video), on two workers.
test-fast: $(STAMP) editors
	STORYBOARD_TEST_FAST=1 $(PYTEST) -q -m "not slow" -n 2

lint: $(STAMP)
	$(BIN)/ruff check

bench: $(STAMP) bytecode
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# storyboard/language/tables.py: the parser's LALR tables, generated from story.lark (the same
# grammar always gives the same file; tests/test_front_half.py fails when it is stale).
grammar: $(STAMP)
	$(BIN)/python -c 'import sys; from storyboard.language.parser import tables_source; \
	  sys.stdout.write(tables_source())' > storyboard/language/tables.py.new
	mv storyboard/language/tables.py.new storyboard/language/tables.py

# docs/diagnostics.md is generated from the catalogue (storyboard/messages.py) and the golden error cases.
docs: $(STAMP)
	$(BIN)/python -m storyboard.messages tests/golden/errors > docs/diagnostics.md

clean:
	rm -rf $(VENV) build dist .pytest_cache
