# Hearth: two commands do everything on a fresh machine.
#   make run   installs what is missing, builds, and starts the embedded platform on examples/
#   make test  installs what the tests need and runs every suite
SHELL := /bin/bash
.DEFAULT_GOAL := help
PORT ?= 8080
# maven (with the JRE it depends on) fetches and runs Kafka's jars for the event-source tests (test/servers/fetch-kafka.sh).
# chromium drives the console's browser tests (playwright-core, no browser download); prometheus brings promtool,
# which lints every process's /metrics.
APT_PACKAGES := redis-server curl iproute2 iptables nftables conntrack util-linux mount bubblewrap maven chromium prometheus
BENCH_APT_PACKAGES := nginx-light
# What make run needs of the system: bubblewrap for the functions' sandbox, util-linux for its setpriv.
RUN_APT_PACKAGES := bubblewrap util-linux
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/go/bin:/usr/local/go/bin:$(PATH)

.PHONY: help deps deps-system deps-run deps-bench build run test lint typecheck test-unit test-python test-go test-k8s crd bench cluster-build cluster-up cluster-down e2e-local clean
.PHONY: kind-up kind-down images kind-load deploy e2e

help:
	@echo "make run     start Hearth on this machine (http://127.0.0.1:$(PORT))"
	@echo "make test    install test dependencies and run every suite"
	@echo "make bench   run the benchmarks"

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

# Installs the Debian packages named in $(1) that are missing (services are not started).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps-system:
	$(call apt_install,$(APT_PACKAGES))

deps-run:
	$(call apt_install,$(RUN_APT_PACKAGES))

# nginx is the gateway benchmark's baseline reverse-proxy hop.
deps-bench:
	$(call apt_install,$(APT_PACKAGES) $(BENCH_APT_PACKAGES))

deps: node_modules/.package-lock.json

# npm's build script: the TypeScript of src/ into dist/, and the web console (console/, Vite) into dist/console.
build: deps
	npm run -s build

run: build deps-run
	node dist/cli/main.js up --dir examples --port $(PORT)

crd: deps
	npx tsx src/api/crd-gen.ts

lint: deps
	npx eslint .

typecheck: deps
	npx tsc -p tsconfig.json --noEmit

# AWS's own CLI and boto3 (its waiters), to prove the gateway speaks Lambda's
# Invoke and control-plane APIs and SigV4 as Lambda does. The stamp file is
# the target so a venv made before boto3 was added gets it too.
AWSCLI := .cache/awscli/.awscli-boto3
$(AWSCLI):
	python3 -m venv .cache/awscli && .cache/awscli/bin/pip install -q awscli boto3 && touch $@

# The CloudEvents Python SDK (pinned): test/platform/events-ingress.test.ts sends
# binary, structured and batch events with it, as a CloudEvents producer would;
# test/e2e/event-sources.test.ts sends them to the gateway on the process-node cluster.
CLOUDEVENTS := .cache/cloudevents/.cloudevents-2.2.0
$(CLOUDEVENTS):
	python3 -m venv .cache/cloudevents && .cache/cloudevents/bin/pip install -q cloudevents==2.2.0 && touch $@

# The fault-injection suite records each case; the report renders docs/faults.md and fails if any accepted event was lost.
test-unit: deps deps-system build $(AWSCLI) $(CLOUDEVENTS)
	rm -rf $${TMPDIR:-/tmp}/hearth-faults
	@# versitygw, the S3 store of test/uploads, builds beside the suites (cold: about a minute); its test waits on the build's lock.
	bash test/uploads/build-versitygw.sh >$${TMPDIR:-/tmp}/hearth-versitygw-build.log 2>&1 &
	@# Kafka's jars (Maven Central, about 10 s cold) likewise; test/servers/kafka.ts waits on the fetch's lock.
	bash test/servers/fetch-kafka.sh >$${TMPDIR:-/tmp}/hearth-kafka-fetch.log 2>&1 &
	@# Jaeger v2, the trace backend of test/tracing (cold: about 6 minutes); test/servers/jaeger.ts waits on the build's lock.
	bash test/servers/build-jaeger.sh >$${TMPDIR:-/tmp}/hearth-jaeger-build.log 2>&1 &
	npx vitest run
	npx tsx test/faults/report.ts

test-python:
	python3 -m pytest -q runtimes/python

test-go:
	cd runtimes/go && GOFLAGS=-mod=mod go test ./...

test-k8s: deps cluster-build
	npx vitest run --config vitest.k8s.config.ts

# Kubernetes control plane built from Go modules into ~/.cache/hearth (only the first build pays).
cluster-build:
	@bash test/cluster/build.sh >/dev/null

# A background cluster for development in the network namespace hearth-dev:
# the control plane (kwok's fake node beside it, tainted hearth.dev/fake-node),
# the process node, kube-proxy and CoreDNS. Prints the KUBECONFIG and how to
# run kubectl, helm or curl inside the namespace.
cluster-up: deps cluster-build build
	@bash test/cluster/build-coredns.sh >/dev/null
	@bash test/cluster/prepare-go-image.sh >/dev/null
	@bash test/cluster/netns-run.sh --create hearth-dev
	@bash test/cluster/netns-run.sh --exec hearth-dev -- npx tsx test/cluster/process-cli.ts up

cluster-down: deps
	@if [ -e /run/netns/hearth-dev ]; then bash test/cluster/netns-run.sh --exec hearth-dev -- npx tsx test/cluster/process-cli.ts down; fi
	@bash test/cluster/netns-run.sh --delete hearth-dev

# End to end on a real cluster whose only stand-in is the node (pods as
# processes in network namespaces; no container engine), all inside a network
# namespace of its own; the wrapper then checks nothing was left behind.
e2e-local: deps deps-system cluster-build $(AWSCLI) $(CLOUDEVENTS)
	@bash test/cluster/build-coredns.sh >/dev/null
	@bash test/cluster/prepare-go-image.sh >/dev/null
	@bash test/cluster/netns-run.sh hearth-e2e-$$$$ -- npx vitest run --config vitest.e2e.config.ts

test: deps deps-system lint typecheck test-unit test-python test-go test-k8s e2e-local

bench: build deps-bench
	npx tsx bench/main.ts

clean:
	rm -rf dist

# ---- Kubernetes with Docker and kind (for users with Docker; see README "Install on Kubernetes") ----
#   make kind-up images kind-load deploy e2e     a local cluster running this tree
KIND_CLUSTER ?= hearth
IMAGE_REGISTRY ?= ghcr.io
IMAGE_REPO ?= hearth-dev
IMAGE_TAG ?= $(shell sed -n 's/^appVersion: *"*\([^"]*\)"*/\1/p' charts/hearth/Chart.yaml)
RELEASE ?= hearth
NAMESPACE ?= hearth-system
HELM_ARGS ?=
IMAGE_PREFIX := $(if $(IMAGE_REGISTRY),$(IMAGE_REGISTRY)/)$(IMAGE_REPO)
HEARTH_IMAGES := gateway controller agent runtime-python runtime-nodejs runtime-go runtime-provided
# helm from PATH, else the one make cluster-build puts in the test cache.
HELM ?= $(shell command -v helm 2>/dev/null || { d=$$(bash test/cluster/build.sh --print-bin-dir); [ -x "$$d/helm" ] && echo "$$d/helm"; } || echo helm)

define need_docker
	@command -v docker >/dev/null 2>&1 || { echo "make $@: needs Docker, which is not installed here (https://docs.docker.com/get-docker/). Nothing was done."; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "make $@: needs Docker, but the Docker daemon is not reachable (docker info failed). Start Docker, or run where it runs. Nothing was done."; exit 1; }
endef
define need_kind
	$(need_docker)
	@command -v kind >/dev/null 2>&1 && kind version >/dev/null 2>&1 || { echo "make $@: needs kind (go install sigs.k8s.io/kind@latest, or https://kind.sigs.k8s.io). Nothing was done."; exit 1; }
endef
define need_cluster_tools
	@command -v kubectl >/dev/null 2>&1 || { echo "make $@: needs kubectl on PATH. Nothing was done."; exit 1; }
	@command -v $(HELM) >/dev/null 2>&1 || { echo "make $@: needs helm (go install helm.sh/helm/v3/cmd/helm@v3.18.6, or make cluster-build). Nothing was done."; exit 1; }
endef

kind-up:
	$(need_kind)
	@if kind get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then echo "kind cluster $(KIND_CLUSTER) already exists"; \
	else kind create cluster --name $(KIND_CLUSTER) --wait 120s; fi
	@kubectl config use-context kind-$(KIND_CLUSTER) >/dev/null

kind-down:
	$(need_kind)
	kind delete cluster --name $(KIND_CLUSTER)

# One build of the Node.js components (three targets) and one image per runtime.
images:
	$(need_docker)
	docker build -f images/hearth.Dockerfile --target gateway -t $(IMAGE_PREFIX)/gateway:$(IMAGE_TAG) .
	docker build -f images/hearth.Dockerfile --target controller -t $(IMAGE_PREFIX)/controller:$(IMAGE_TAG) .
	docker build -f images/hearth.Dockerfile --target agent -t $(IMAGE_PREFIX)/agent:$(IMAGE_TAG) .
	docker build -f runtimes/python/Dockerfile -t $(IMAGE_PREFIX)/runtime-python:$(IMAGE_TAG) .
	docker build -f runtimes/nodejs/Dockerfile -t $(IMAGE_PREFIX)/runtime-nodejs:$(IMAGE_TAG) .
	docker build -f runtimes/go/Dockerfile --target runtime -t $(IMAGE_PREFIX)/runtime-go:$(IMAGE_TAG) .
	docker build -f runtimes/provided/Dockerfile -t $(IMAGE_PREFIX)/runtime-provided:$(IMAGE_TAG) .

kind-load:
	$(need_kind)
	kind load docker-image --name $(KIND_CLUSTER) $(foreach i,$(HEARTH_IMAGES),$(IMAGE_PREFIX)/$(i):$(IMAGE_TAG))

# Any cluster kubectl points at (kind's after make kind-up); only helm and kubectl are needed.
deploy:
	$(need_cluster_tools)
	$(HELM) upgrade --install $(RELEASE) charts/hearth --namespace $(NAMESPACE) --create-namespace \
	  --set image.registry=$(IMAGE_REGISTRY) --set image.repository=$(IMAGE_REPO) --set image.tag=$(IMAGE_TAG) \
	  --set image.pullPolicy=IfNotPresent --wait --timeout 5m $(HELM_ARGS)

e2e: kind-up images kind-load deploy
	$(need_cluster_tools)
	RELEASE=$(RELEASE) NAMESPACE=$(NAMESPACE) HELM=$(HELM) bash test/kind/e2e.sh
