# Quickstart: `make demo` (pretrain GRACE on Cora and print the probe result) and `make test`.
# Each sets up .venv on first use: torch pinned to 2.13.0 first, then graphssl and its extras.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The offline mirror: $GRAPHSSL_MIRROR if set, else ../shared/datasets when it exists.
MIRROR ?= $(or $(GRAPHSSL_MIRROR),$(wildcard ../shared/datasets))

.PHONY: demo test install clean

install: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,plot,modalities,chem]'
	touch $@

demo: $(BIN)/.installed
	GRAPHSSL_MIRROR=$(MIRROR) $(BIN)/graphssl demo

test: $(BIN)/.installed
	GRAPHSSL_MIRROR=$(MIRROR) $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) datasets/*/ .pytest_cache
