# The two set-up commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test install bench clean

$(BIN)/syndicrawl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	touch $@

install: $(BIN)/syndicrawl

demo: install
	$(BIN)/syndicrawl demo

test: install
	$(BIN)/pytest

bench: install
	$(BIN)/python benchmarks/crawl_throughput.py

clean:
	rm -rf $(VENV) syndicrawl-demo build *.egg-info
