# The two commands: `make up` (run the exchange on the local stack) and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help setup up down status test lint typecheck gen gen-check buf-lint buf-breaking bench

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup:  ## install everything the project needs (apt packages, uv env, buf, Kafka jars)
	scripts/setup.sh

up: setup  ## start the local stack (PostgreSQL, Redis, Kafka, S3, chDB) and the services
	scripts/stack.sh up --services

down:  ## stop everything `make up` started
	scripts/stack.sh down

status:  ## what is running
	scripts/stack.sh status

test: setup  ## run every test (starts the local stack's servers if they are not up)
	scripts/stack.sh up
	scripts/test.sh

lint:  ## ruff + mypy + buf lint + generated-code check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check . || true
	scripts/typecheck.sh
	$(MAKE) buf-lint gen-check

typecheck:
	scripts/typecheck.sh

gen:  ## regenerate contracts/gen/python from contracts/proto
	scripts/gen_contracts.sh

gen-check:
	scripts/gen_contracts.sh --check

buf-lint:
	cd contracts && ./node_modules/.bin/buf lint

buf-breaking:  ## compare contracts against the previous commit of main
	scripts/buf_breaking.sh
