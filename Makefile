# orgpeer: `make demo` runs the multi-process demo, `make test` the tests.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin/orgpeer

.PHONY: build test demo vet fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/orgpeer

vet:
	$(GO) vet ./...

# Race detector on; every test starts and stops its own processes on loopback.
test: vet
	$(GO) test -race -count=1 -timeout 9m ./...

# Real `orgpeer run` processes in three organizations on this machine.
demo: build
	./$(BIN) demo --nodes 6 --orgs 3 --hosts 2 --duration 60s

# Each fuzz target of network input and API parsing for FUZZTIME.
FUZZTIME ?= 30s
fuzz:
	for f in FuzzDecodeMessage FuzzVerifyCredential FuzzParsePeerQuery; do \
		$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) ./node || exit 1; \
	done

clean:
	rm -rf bin
