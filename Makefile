# Two commands for a fresh machine:  make demo   and   make test
# demo: an all-atom protein -> Martini 3 CG -> back to all-atom with the shipped model (hydrogens,
# minimisation) -> scored against the original
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.herobm-installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first: the pinned CPU wheel; anything later that needs torch is then satisfied
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	mkdir -p out
	$(BIN)/herobm map examples/adk_open.pdb --mapping martini3 -o out/adk_cg.pdb
	$(BIN)/herobm backmap out/adk_cg.pdb -o out/adk_aa.pdb --hydrogens --minimize
	$(BIN)/herobm evaluate out/adk_aa.pdb examples/adk_open.pdb --json out/adk_scores.json

test: $(STAMP)
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) out
