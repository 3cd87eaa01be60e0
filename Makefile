# orgpeer: `make demo` runs the multi-process demo, `make test` the tests.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin/orgpeer

.PHONY: build test demo vet deps cross fuzz soak bench sim clean

build:
	$(GO) build -o $(BIN) ./cmd/orgpeer

vet:
	$(GO) vet ./...

# Chromium from Debian's packages, for the dashboard's headless-browser test.
deps:
	@command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# The whole module builds for macOS too (Linux-only code sits behind build tags).
cross:
	GOOS=darwin GOARCH=amd64 $(GO) build ./...
	GOOS=darwin GOARCH=arm64 $(GO) build ./...

# Race detector on; every test starts and stops its own processes on loopback.
# The 50-node simulation runs apart, without the race detector, which would
# make it ten times slower (see node/nodesim).
test: vet deps cross
	$(GO) test -race -count=1 -timeout 9m ./...
	$(GO) test -count=1 -run '^TestSim50$$' ./node/nodesim

# Twelve real `orgpeer run` processes in three organizations on this machine,
# with churn, a live table and a web dashboard. Ctrl-C ends it sooner.
DEMO_FLAGS ?= --nodes 12 --orgs 3 --hosts 2 --churn 5s --duration 60s
demo: build
	./$(BIN) demo $(DEMO_FLAGS)

# Real processes at N = 10, 20, 50 (BENCH_FLAGS), then the view's hot paths.
# Results: artifacts/bench.json and artifacts/bench.svg. Not part of `test`.
BENCH_FLAGS ?= --nodes 10,20,50 --orgs 3
bench: build
	./$(BIN) bench $(BENCH_FLAGS) --out artifacts/bench.json
	$(GO) test -run '^$$' -bench . -benchmem ./orgs

# Each fuzz target of network input and API parsing for FUZZTIME.
FUZZTIME ?= 30s
fuzz:
	for t in node/wire:FuzzDecodeMessage node:FuzzVerifyCredential node/api:FuzzParsePeerQuery; do f=$${t##*:}; p=./$${t%%:*}; \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$p || exit 1; \
	done

# 20 nodes under churn for SOAK_DURATION; fails if an event never recovers or
# a surviving node's memory or goroutines keep growing. Not part of `test`.
SOAK_DURATION ?= 3m
soak: build
	./$(BIN) demo --soak --nodes 20 --orgs 3 --hosts 4 --churn 3s --duration $(SOAK_DURATION)

# SIMULATED, not measured: SIM_NODES nodes in one process on a simulated
# network, in virtual time (node/nodesim). Prints a table and writes
# artifacts/sim.json. SIM_WALL bounds the real time (0: none); SIM_FLAGS
# passes more (-latency, -mbps, -seeds, -probe, -spacing, -poll, -window, -settle,
# -max-mem GB).
SIM_NODES ?= 200
SIM_ORGS ?= 10
SIM_MINUTES ?= 10
SIM_WALL ?= 0
SIM_FLAGS ?=
sim:
	$(GO) test -count=1 -run '^TestSimulation$$' -timeout 0 -v ./node/nodesim -args -nodes $(SIM_NODES) \
		-orgs $(SIM_ORGS) -minutes $(SIM_MINUTES) -wall $(SIM_WALL) -out $(CURDIR)/artifacts/sim.json $(SIM_FLAGS)

clean:
	rm -rf bin
