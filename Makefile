# The two set-up commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# ReplayWeb.page's static files (npm package replaywebpage) for tests/test_wacz_browser.py, fetched here
# because tests run without network; without them that test skips (fails under CI=true).
REPLAYWEBPAGE := 2.5.3
RWP := build/replaywebpage
RWP_PACKAGE := $(RWP)/replaywebpage-$(REPLAYWEBPAGE).tgz
# axe-core (npm) checks the view's pages for accessibility in tests/test_web_view.py; fetched the same way.
AXE_CORE := 4.14.1
AXE := build/axe-core
AXE_PACKAGE := $(AXE)/axe-core-$(AXE_CORE).tgz

.PHONY: demo test install bench clean

$(BIN)/syndicrawl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,postgres]'
	touch $@

$(RWP_PACKAGE):
	@rm -rf $(RWP) && mkdir -p $(RWP)
	@npm pack --silent --pack-destination $(RWP) replaywebpage@$(REPLAYWEBPAGE) >/dev/null \
	  && tar xzf $@ -C $(RWP) --strip-components=1 package/index.html package/ui.js package/sw.js \
	  || { rm -f $@; echo "ReplayWeb.page not fetched (npm or its registry missing): its browser test will skip"; }

$(AXE_PACKAGE):
	@rm -rf $(AXE) && mkdir -p $(AXE)
	@npm pack --silent --pack-destination $(AXE) axe-core@$(AXE_CORE) >/dev/null \
	  && tar xzf $@ -C $(AXE) --strip-components=1 package/axe.min.js \
	  || { rm -f $@; echo "axe-core not fetched (npm or its registry missing): the accessibility test will skip"; }

install: $(BIN)/syndicrawl $(RWP_PACKAGE) $(AXE_PACKAGE)

demo: install
	$(BIN)/syndicrawl demo

test: install
	$(BIN)/pytest

bench: install
	$(BIN)/python benchmarks/crawl_throughput.py

clean:
	rm -rf $(VENV) syndicrawl-demo build *.egg-info
