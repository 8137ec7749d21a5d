# Hearth: two commands do everything on a fresh machine.
#   make run   installs what is missing, builds, and starts the embedded platform on examples/
#   make test  installs what the tests need and runs every suite
SHELL := /bin/bash
.DEFAULT_GOAL := help
PORT ?= 8080
APT_PACKAGES := redis-server
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/go/bin:/usr/local/go/bin:$(PATH)

.PHONY: help deps deps-system build run test lint typecheck test-unit test-python test-go test-k8s crd bench cluster-build cluster-up cluster-down clean

help:
	@echo "make run     start Hearth on this machine (http://127.0.0.1:$(PORT))"
	@echo "make test    install test dependencies and run every suite"
	@echo "make bench   run the benchmarks"

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps-system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

deps: node_modules/.package-lock.json

build: deps
	npx tsc -p tsconfig.build.json

run: build
	node dist/cli/main.js up --dir examples --port $(PORT)

crd: deps
	npx tsx src/api/crd-gen.ts

lint: deps
	npx eslint .

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

test-unit: deps deps-system build
	npx vitest run

test-python:
	python3 -m pytest -q runtimes/python

test-go:
	cd runtimes/go && GOFLAGS=-mod=mod go test ./...

test-k8s: deps cluster-build
	npx vitest run --config vitest.k8s.config.ts

# Kubernetes control plane built from Go modules into ~/.cache/hearth (only the first build pays).
cluster-build:
	@bash test/cluster/build.sh >/dev/null

# A background control plane for development; prints the KUBECONFIG to use.
cluster-up: deps cluster-build
	@npx tsx test/cluster/cli.ts up

cluster-down: deps
	@npx tsx test/cluster/cli.ts down

test: deps deps-system lint typecheck test-unit test-python test-go test-k8s

bench: build deps-system
	npx tsx bench/main.ts

clean:
	rm -rf dist
