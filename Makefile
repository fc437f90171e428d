# paychat: `make run` starts the whole assistant, `make test` runs every check. See README.md.
SHELL := /bin/bash
export PYTHONPATH := $(CURDIR)
export RASA_TELEMETRY_ENABLED := false
APP_PY := .venvs/app/bin/python
RASA := .venvs/rasa/bin/rasa

.PHONY: setup run test test-slow lint typecheck imports validate train spacy-pipeline unit bench lock clean

## setup: build (or reuse) both environments; a second run installs nothing
setup:
	@bash scripts/setup.sh all

## spacy-pipeline: build the blank-English spaCy pipeline with money/date rules that Rasa loads
spacy-pipeline: setup
	@.venvs/rasa/bin/python scripts/build_spacy_pipeline.py

## train: train the Rasa model unless one matches the data and config (fingerprint)
train: spacy-pipeline
	@$(APP_PY) scripts/train.py

## run: start every process on embedded defaults (SQLite, Stripe sandbox, console on :8000)
run: train
	@$(APP_PY) scripts/run.py

lint: setup
	@.venvs/app/bin/ruff check .

typecheck: setup
	@.venvs/app/bin/mypy payments db settings observability

imports: setup
	@.venvs/app/bin/lint-imports

validate: spacy-pipeline
	@cd rasa_project && ../$(RASA) data validate --fail-on-warnings --quiet

## test: lint, types, import contracts, Rasa data validation and the whole pytest suite
# The suite waits on servers much of the time (one process kept 0.6 of a core busy): three pytest-xdist
# workers, each test file on one worker (its module-scoped stack starts once). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 3
test: train lint typecheck imports validate
	@$(APP_PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## bench: NLU quality report and latency benchmarks into bench/results/
bench: train
	@$(APP_PY) -m bench $(BENCH_ARGS)
	@$(APP_PY) -m pytest -m slow

## test-slow: the tests too long for `make test` (the tuning loop's end-to-end retraining)
test-slow: train
	@$(APP_PY) -m pytest -m slow

## lock: regenerate both hashed lock files from requirements/*.in (needs network to the registry)
lock: setup
	@$$(ls -d $$HOME/.cache/paychat/tools/uv-*/bin/uv | tail -n1) pip compile requirements/rasa.in --excludes requirements/rasa.excludes --python-version 3.10 --python-platform x86_64-unknown-linux-gnu --generate-hashes -o requirements/rasa.lock
	@$$(ls -d $$HOME/.cache/paychat/tools/uv-*/bin/uv | tail -n1) pip compile requirements/app.in --python-version 3.11 --python-platform x86_64-unknown-linux-gnu --generate-hashes -o requirements/app.lock

clean:
	rm -rf var/ rasa_project/models rasa_project/spacy_pipeline .venvs
