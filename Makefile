# orgpeer: `make demo` runs the multi-process demo, `make test` the tests.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin/orgpeer

.PHONY: build test demo vet clean

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

clean:
	rm -rf bin
