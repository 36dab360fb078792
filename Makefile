# archiver: run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/archiver
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
DEMO_DIR ?= $(CURDIR)/.demo
TESTENV := scripts/testenv.sh
# Packages whose tests need the test servers; the rest run without them.
TEST_FLAGS ?= -count=1 -timeout 45m

.PHONY: help build image demo test test-unit testenv testenv-stop bench bench-restore bench-scale chaos check fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/archiver (static)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/archiver

image: ## build the OCI image without Docker (linux amd64 + arm64, version stamped) into bin/image/: OCI layout, oci-archive and docker-archive tarballs
	rm -rf bin/image bin/linux
	for arch in amd64 arm64; do CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/linux/$$arch/archiver ./cmd/archiver || exit 1; done
	$(GO) run ./tools/mkimage --version $(VERSION) --out bin/image --bin amd64=bin/linux/amd64/archiver --bin arm64=bin/linux/arm64/archiver

demo: build ## generate a sample /var/lib/xroad, sync it to a local directory twice, show the result
	@scripts/demo.sh $(BIN) $(DEMO_DIR)

testenv: ## build (once, cached) and start MinIO (KMS key), kube-apiserver + etcd, and a real single-node Kubernetes (root) on loopback; writes .testenv/env
	@$(TESTENV) start

testenv-stop: ## stop the test servers and remove the node (processes, mounts, netns, bridge, cgroups); fails naming anything left
	@$(TESTENV) stop

test: testenv ## start the test servers, then run every test (race detector on)
	@source .testenv/env && $(GO) test -race $(TEST_FLAGS) ./...

test-unit: ## tests that need no server (integration tests skip visibly)
	$(GO) test $(TEST_FLAGS) ./...

bench: build ## benchmark sync against aws s3 sync and rclone on the same MinIO; prints ratios
	@scripts/bench.sh $(BIN)

bench-restore: build ## archiver restore vs s5cmd, interleaved, on one MinIO (BENCH_ROUNDS=6; BENCH_MINIO_RAM=1: MinIO's data in RAM); also s5cmd's time until on disk
	@scripts/bench-restore.sh $(BIN)

bench-scale: build ## cost of sync, verify and restore as the history grows (BENCH_SCALE_SIZES=1000,10000,100000,1000000 entries, 1,000 files on the volume): time, peak RSS, bookkeeping bytes
	$(GO) run ./tools/benchscale -bin $(BIN) -sizes $${BENCH_SCALE_SIZES:-1000,10000,100000,1000000}

chaos: testenv ## hardening campaign (size: CHAOS_KILLS=500 random kills): sync, verify, restore, network faults, MinIO restarts, disk full, fuzzing
	@scripts/chaos.sh

fuzz: ## run every fuzz target for FUZZTIME each (default 20s)
	@scripts/fuzz.sh $${FUZZTIME:-20s}

check: ## gofmt, go vet, staticcheck, go mod tidy diff, then make test
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || { echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	$(GO) mod tidy && git diff --exit-code go.mod go.sum
	$(MAKE) test

clean: ## remove build output and the demo directory
	rm -rf bin $(DEMO_DIR)
