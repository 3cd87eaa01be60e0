# orgpeer: `make demo` runs the multi-process demo, `make test` the tests.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin/orgpeer

.PHONY: build test demo vet deps cross fuzz soak bench bench-serf bench-floor sim sim-model clean verify-deploy image

# Without cgo, as deploy/Containerfile builds it: nothing needs it (the
# resolver is Go's own), and a static binary maps no libc: 1.3 MB less RSS
# per process.
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/orgpeer

vet:
	$(GO) vet ./...

# From Debian's packages: Chromium for the dashboard's headless-browser test,
# nftables for the NAT routers of the network-namespace tests.
deps:
	@command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)
	@command -v nft >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nftables)

# The whole module builds for macOS too (Linux-only code sits behind build tags).
cross:
	GOOS=darwin GOARCH=amd64 $(GO) build ./...
	GOOS=darwin GOARCH=arm64 $(GO) build ./...

# Race detector on; every test starts and stops its own processes, on
# loopback or, as root, on hosts made of network namespaces of its own.
# The test binaries are built in parallel, then run one package at a time
# (-p 1): the multi-process tests of cmd/orgpeer and node's real-host tests
# time real processes, and on 2 cores, run side by side, each loaded the
# other into false timeouts.
# The 50-node simulation runs apart, without the race detector, which would
# make it ten times slower (see node/nodesim).
test: vet deps cross verify-deploy
	$(GO) test -race -count=1 -run '^$$' ./... >/dev/null
	$(GO) test -race -count=1 -p 1 -timeout 9m ./...
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

# orgpeer against HashiCorp Serf on this machine, side by side: the same N,
# organizations and polling, rounds interleaved, for both pairs of presets
# (orgpeer local vs Serf local, orgpeer default vs Serf lan); prints the
# ratios orgpeer / Serf against their targets and writes
# artifacts/bench-serf.json. Half an hour to an hour. Not part of `test`.
BENCH_SERF_FLAGS ?= --nodes 20,50 --orgs 3 --runs 3
bench-serf: build bin/serf
	./$(BIN) bench --vs serf --serf-bin bin/serf $(BENCH_SERF_FLAGS) --out artifacts/bench-serf.json

# The idle floor under orgpeer's per-node costs: bare go-libp2p hosts with
# its transports, fully connected, alone, with GossipSub carrying one
# heartbeat-sized message per host every 5 s (GossipSub's defaults, then the
# node's own settings of the lan and local presets), and with the latter idle.
# About 4 minutes per size. Not part of `test`.
BENCH_FLOOR_FLAGS ?= --nodes 20,50
bench-floor: build
	./$(BIN) bench --host-floor $(BENCH_FLOOR_FLAGS)

# Serf, a released version (v0.11.0; it reports 0.10.2-dev), for bench-serf only.
SERF_VERSION ?= v0.11.0
bin/serf:
	GOBIN=$(CURDIR)/bin $(GO) install github.com/hashicorp/serf/cmd/serf@$(SERF_VERSION)

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
# -max-mem GB, -sample-budget N: sampled heartbeats forced on above N a round).
SIM_NODES ?= 200
SIM_ORGS ?= 10
SIM_MINUTES ?= 10
SIM_WALL ?= 0
SIM_FLAGS ?=
sim:
	$(GO) test -count=1 -run '^TestSimulation$$' -timeout 0 -v ./node/nodesim -args -nodes $(SIM_NODES) \
		-orgs $(SIM_ORGS) -minutes $(SIM_MINUTES) -wall $(SIM_WALL) -out $(CURDIR)/artifacts/sim.json $(SIM_FLAGS)

# A MODEL-LEVEL simulation, not the real stack: the sampled-heartbeat
# algorithm alone (orgs/sample/model), no crypto, no transport, at 1,000 to
# 100,000 nodes and two org mixes. Prints a table and writes
# artifacts/sim-model.json; a few minutes. SIM_MODEL_FLAGS passes more
# (-model-window rounds, -model-budget heartbeats per round). Not part of
# `test` (which runs its small version, TestModelSmall).
SIM_MODEL_SIZES ?= 1000,3000,10000,30000,100000
SIM_MODEL_MIXES ?= uniform10,zipf20
SIM_MODEL_FLAGS ?=
sim-model:
	$(GO) test -count=1 -run '^TestModelTable$$' -timeout 0 -v ./orgs/sample/model -args \
		-model-sizes $(SIM_MODEL_SIZES) -model-mixes $(SIM_MODEL_MIXES) -model-out $(CURDIR)/artifacts/sim-model.json $(SIM_MODEL_FLAGS)

clean:
	rm -rf bin
