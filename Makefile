# Canvass — the front door. `make help` lists the targets.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
FUZZTIME ?= 30s
BIN := bin/canvass

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# Debian packages the tests drive as real peers: PostgreSQL (the store), espeak-ng
# (prompt synthesis), baresip + sox (a real SIP phone and its test audio), Chromium
# (the console end-to-end tests), R (the export's R script is loaded by a test),
# Kamailio (the SIP front of a cluster: make cluster, TestCluster).
RUN_PACKAGES := postgresql espeak-ng
CLUSTER_PACKAGES := $(RUN_PACKAGES) kamailio
TEST_PACKAGES := $(CLUSTER_PACKAGES) baresip-core sox chromium r-base-core
DEB_PACKAGES ?= $(TEST_PACKAGES)

# A fresh machine's unattended upgrades may hold the package lock for minutes:
# apt-get waits for it (up to 15 minutes) instead of failing.
deps: ## install the Debian packages Canvass and its tests use (as root, with apt-get)
	@need=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || need="$$need $$p"; \
	done; \
	if [ -n "$$need" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$need"; \
	    apt-get -o DPkg::Lock::Timeout=900 update -qq && \
	      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends $$need; \
	  else \
	    echo "missing:$$need — run: sudo apt-get install$$need (or make deps as root)"; exit 1; \
	  fi; \
	fi

build: ## build bin/canvass
	$(GO) build -o $(BIN) ./cmd/canvass

run: build ## start canvass with a local PostgreSQL in .data/ and the example surveys
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(RUN_PACKAGES)"
	$(BIN) dev -data .data

test: deps ## install what the tests need, then run every test (race detector on)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet ./...
	CANVASS_REQUIRE_KAMAILIO=1 $(GO) test -race -count=1 -timeout 20m ./...

# NODES: canvass nodes behind Kamailio (127.0.0.1:5080); nodes on 127.0.0.1:5090+i (SIP), :8090+i (HTTP).
NODES ?= 3
cluster: build ## Kamailio on 127.0.0.1:5080 in front of NODES canvass nodes sharing a local PostgreSQL in .data/cluster
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(CLUSTER_PACKAGES)"
	$(BIN) cluster run -nodes $(NODES) -data .data/cluster

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(GO) vet ./...

bench: deps build ## run the Go benchmarks, ARI call setup (bench-ari), the dashboard over 1,000,000 interviews (bench-dashboard), the SIP load test (100, 500, 1,000 calls), then the bridged-call benchmark (100, 300)
	$(GO) test -run '^$$' -bench . -skip 'StasisSetup|Dashboard1M' -benchmem ./...
	@$(MAKE) --no-print-directory bench-ari
	@$(MAKE) --no-print-directory bench-dashboard
	@# A fresh data directory that user postgres can enter (mktemp makes it 0700).
	@dir=$$(mktemp -d /tmp/canvass-bench-XXXXXX) && chmod 755 $$dir && \
	  $(BIN) loadtest -spawn $$dir -calls 100,500,1000; status=$$?; rm -rf $$dir; exit $$status
	@uptime
	$(BIN) bridgebench -calls 100,300

# ARI_CALLS: concurrent calls of each bench-ari run; ARI_RATE: calls started a second.
ARI_CALLS ?= 100,300,600,1000
ARI_RATE ?= 50
bench-ari: ## ARI call setup (StasisStart → answer) at ARI_CALLS calls against the stand-in Asterisk, before/after issue 13
	$(GO) test -run '^$$' -bench StasisSetup -benchtime 1x ./ivr/asterisk -ari-calls $(ARI_CALLS) -ari-rate $(ARI_RATE)
	@uptime

bench-dashboard: ## the dashboard page over 1,000,000 generated interviews (p50, p95), with and without the report roll-up
	$(GO) test -run '^$$' -bench Dashboard1M -benchtime 100x -timeout 60m -v ./cati 2>&1 | grep -E 'Benchmark|generated|rolled up|ok|FAIL'
	@uptime

# DENSITY_CALLS: concurrent calls of each bench-density run, started DENSITY_RATE a second.
DENSITY_CALLS ?= 1000,2000,3000
DENSITY_RATE ?= 100
bench-density: build ## issue 13's density: DENSITY_CALLS keypad calls (1,000, 2,000, 3,000) from the lean load generator on this machine; run it on an idle machine
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(RUN_PACKAGES)"
	@uptime
	@dir=$$(mktemp -d /tmp/canvass-density-XXXXXX) && chmod 755 $$dir && \
	  $(BIN) loadtest -spawn $$dir -calls $(DENSITY_CALLS) -rate $(DENSITY_RATE) -duration 30s; status=$$?; rm -rf $$dir; exit $$status
	@uptime

# SOAK_CALLS calls kept up for SOAK_DURATION (a call that ends is replaced), the server sampled every SOAK_SAMPLE.
SOAK_CALLS ?= 1000
SOAK_DURATION ?= 1h
SOAK_SAMPLE ?= 30s
soak: build ## SOAK_CALLS calls (1000) for SOAK_DURATION (1h): the server's RSS, goroutines and open files sampled every SOAK_SAMPLE, their drift, lost answers (not part of make test)
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(RUN_PACKAGES)"
	@dir=$$(mktemp -d /tmp/canvass-soak-XXXXXX) && chmod 755 $$dir && \
	  $(BIN) loadtest -spawn $$dir -calls $(SOAK_CALLS) -duration $(SOAK_DURATION) -sample $(SOAK_SAMPLE); status=$$?; rm -rf $$dir; exit $$status
	@uptime

fuzz: ## run every fuzz target for FUZZTIME each (default 30s)
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean: ## remove the build output (keeps .data/)
	rm -rf bin

.PHONY: help deps build run cluster test lint bench bench-ari bench-dashboard bench-density soak fuzz clean
