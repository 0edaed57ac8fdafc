# CitySafety. The recipes live in scripts/; see README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run test setup services stop status backup restore bench bench-backtest bench-history bench-rollups bench-map bench-no-data lint format messages clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  make %-13s %s\n", $$1, $$2 }'

run: ## set up, load the demo city, run web + api + worker + beat + bridge + simulator (Ctrl-C stops)
	@bash scripts/run.sh

test: ## set up, then pytest -m "not e2e" and pytest -m e2e
	@bash scripts/test.sh

setup: ## everything `make test` installs and starts, without running the tests
	@bash scripts/setup.sh test

services: ## reuse or start PostgreSQL, Redis and Mosquitto and create the database
	@bash scripts/services.sh start

stop: ## stop the private servers started under var/
	@bash scripts/services.sh stop

status: ## what answers on the PostgreSQL, Redis and Mosquitto ports
	@bash scripts/services.sh status

bench: ## the storm-load benchmark, one table into bench/results/ (QUICK=1: under 3 minutes)
	@QUICK="$(QUICK)" bash scripts/bench.sh

bench-backtest: ## a changed rule's backtest over 100 sensors x 7 days, for a threshold, a duration and a rate rule (about 2 minutes)
	@BENCH_MODULE=bench.backtest bash scripts/bench.sh

bench-history: ## the warning and work-order lists over 1 M warnings and 4 M work orders (BENCH_ARGS="--help")
	@BENCH_MODULE=bench.history bash scripts/bench.sh

bench-rollups: ## a year-long sensor chart from the hour roll-ups, and bytes per reading (QUICK=1: smaller)
	@QUICK="$(QUICK)" BENCH_MODULE=bench.rollups bash scripts/bench.sh

bench-no-data: ## the no-data sweep over 100,000 sensors, one gateway silent (QUICK=1: 10,000)
	@QUICK="$(QUICK)" BENCH_MODULE=bench.no_data bash scripts/bench.sh

bench-map: ## the one map at 10,000 and 100,000 sensors in headless Chromium (BENCH_ARGS=--help)
	@BENCH_MODULE=bench.map bash scripts/bench.sh

backup: ## the database in pg_dump's custom format, to var/backups/<db>-<UTC time>.dump (BACKUP_DIR, BACKUP_KEEP)
	@bash scripts/backup.sh

restore: ## restore a dump into a new database: make restore FILE=var/backups/….dump DB=citysafety_restored
	@bash scripts/restore.sh "$(FILE)" "$(DB)"

lint: ## ruff check and ruff format --check
	@bash scripts/lint.sh

messages: ## update and compile the zh_Hans catalogues (makemessages, no locations)
	@bash scripts/messages.sh

format: ## ruff format and ruff check --fix
	@.venv/bin/ruff format . && .venv/bin/ruff check --fix .

clean: stop ## stop private servers, remove var/ and caches (keeps .venv)
	rm -rf var .pytest_cache .ruff_cache
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
