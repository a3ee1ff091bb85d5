# iotlab — AWS IoT Core on a laptop. Set-up on a fresh machine is two commands: `make run` and `make test`.
GO      ?= go
BIN     ?= bin/iotlab
PKGS    := ./...
FUZZTIME ?= 10s

.PHONY: run test build lint deps bench fuzz soak race generate clean

## run: start iotlab with the default state dir (Ctrl-C stops it)
run:
	$(GO) run . up

## test: install what the tests need when missing, check formatting and vet, run every test
test: deps lint
	$(GO) test -count=1 -timeout 20m $(PKGS)

## build: the single binary
build:
	$(GO) build -o $(BIN) .

## lint: gofmt + go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## deps: the outside clients the tests drive (mosquitto-clients, mosquitto, tmux); python3+boto3+aws CLI are checked
deps:
	@bash .ci/deps

## bench: benchmarks (never timed tests): the Go ones with allocations, then the end-to-end table of `iotlab bench`
## (iotlab, raw mochi and mosquitto as child processes); results in $(BENCH_DIR)/ (go.txt for benchstat, results.json),
## compared with the previous run's when there is one. BENCHFLAGS=--quick for a one-minute table.
BENCH_DIR  ?= .bench
BENCHFLAGS ?=
bench: build
	@mkdir -p $(BENCH_DIR)
	@for f in go.txt results.json; do [ ! -f $(BENCH_DIR)/$$f ] || mv $(BENCH_DIR)/$$f $(BENCH_DIR)/old-$$f; done
	bash -o pipefail -c "$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 5m $(PKGS) | tee $(BENCH_DIR)/go.txt"
	$(BIN) bench --gobench $(BENCH_DIR)/go.txt --json $(BENCH_DIR)/results.json $(BENCHFLAGS) \
	  $$([ -f $(BENCH_DIR)/old-results.json ] && echo --compare $(BENCH_DIR)/old-results.json)
	@[ ! -f $(BENCH_DIR)/old-go.txt ] || echo "Go benchmarks against the previous run: benchstat $(BENCH_DIR)/old-go.txt $(BENCH_DIR)/go.txt"

## fuzz: a bounded run of every Fuzz target ($(FUZZTIME) each; broker's FuzzPacketPath drives the real broker over
## TLS). A crasher is written under the package's testdata/fuzz/ and fails the run: keep it as a regression test.
## A time-bounded run can end with "context deadline exceeded" and no input (golang/go#75804): that is reported
## and skipped, not failed.
fuzz:
	@set -e; out=$$(mktemp); trap 'rm -f $$out' EXIT; \
	for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; \
	    if ! $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg >$$out 2>&1; then \
	      cat $$out; \
	      if grep -q 'Failing input written' $$out || ! grep -q 'context deadline exceeded' $$out; then exit 1; fi; \
	      echo "(Go's fuzz runner stopped on its deadline without an input: golang/go#75804)"; \
	    else tail -n 2 $$out; fi; \
	  done; done

## soak: the long crash and leak tests of the real binary (soak_e2e_test.go; `make test` skips them): SOAK_ROUNDS
## rounds of kill -9 under QoS 1 load on persistent sessions (no acknowledged message lost, API state unchanged), then
## SOAK_DURATION of connection churn with the broker's RSS and goroutines sampled (flat, back to baseline).
## SOAK_SEED=<n> replays the kill points of a run; its tables are printed (-v).
SOAK_ROUNDS   ?= 20
SOAK_DURATION ?= 10m
soak:
	IOTLAB_SOAK=1 SOAK_ROUNDS=$(SOAK_ROUNDS) SOAK_DURATION=$(SOAK_DURATION) $(GO) test -count=1 -v -run '^TestSoak' -timeout 60m .

## race: the tests under the race detector (slower)
race:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

## generate: regenerate the wire tables from botocore's models (botocore must be installed)
generate:
	$(GO) run ./emulator/awsapi/internal/modelgen -botocore "$$(python3 -c 'import botocore,os;print(os.path.dirname(botocore.__file__))')"

clean:
	rm -rf bin
