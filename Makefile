# jwt-authz — `make help` lists the targets.
GO        ?= go
# `make test` reads each part's exit status through a pipe.
SHELL     := bash
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# grpcnotrace leaves out grpc's golang.org/x/net/trace, which jwt-authz never
# serves, and its text/template: a template executed anywhere keeps every
# exported method in the binary (cmd/jwt-authz writes its usage without one).
# The Dockerfile builds with the same flags (test/dockerfile checks).
TAGS      ?= grpcnotrace
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME  ?= 30s
# `make chaos`: how long the fault-and-load suite runs, and the seed of a
# run to replay (0: a new one, printed).
CHAOS_DURATION ?= 10m
CHAOS_SEED     ?= 0

.PHONY: help build run test test-go test-chart test-examples vet fuzz bench tidy-check image chaos

help: ## list the targets
	@grep -E '^[a-z%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the static binary ./jwt-authz
	CGO_ENABLED=0 $(GO) build -trimpath -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o jwt-authz ./cmd/jwt-authz

run: build ## build and run on the embedded default (data in ./data)
	./jwt-authz serve --log-format text

# The parts of `make test`: vet, the race tests of the main module, and the
# tests of every separate module under test/ (found, not listed).
TEST_MODULES := $(sort $(patsubst test/%/go.mod,%,$(wildcard test/*/go.mod)))
TEST_PARTS   := vet test-go $(addprefix test-mod-,$(TEST_MODULES))

test: ## the whole suite: every part runs even when one fails; one summary at the end
	@fail=0; start=$$(date +%s); logs=$$(mktemp -d); \
	for part in $(TEST_PARTS); do \
	  t0=$$(date +%s); \
	  echo "== make test: $$part"; \
	  $(MAKE) --no-print-directory $$part 2>&1 | tee "$$logs/$$part.log"; st=$${PIPESTATUS[0]}; \
	  took=$$(( $$(date +%s) - t0 )); \
	  if [ "$$st" -eq 0 ]; then printf '  ok    %-22s %4ss\n' "$$part" "$$took" >> "$$logs/summary"; \
	  else fail=$$((fail + 1)); printf '  FAIL  %-22s %4ss\n' "$$part" "$$took" >> "$$logs/summary"; \
	    grep -E '^(--- FAIL|FAIL[[:space:]]|panic:|make(\[[0-9]+\])?: \*\*\*)' "$$logs/$$part.log" | head -20 | sed 's/^/          /' >> "$$logs/summary"; fi; \
	done; \
	echo; echo "== make test: $$fail of $(words $(TEST_PARTS)) parts failed, $$(( $$(date +%s) - start ))s in all"; \
	cat "$$logs/summary"; rm -rf "$$logs"; \
	[ "$$fail" -eq 0 ]

vet: ## go vet
	$(GO) vet ./...

test-go: ## race-enabled tests of every package (Redis tests use $$JWT_AUTHZ_REDIS_ADDR or start redis-server)
	$(GO) test -race -count=1 -timeout 12m ./...

chaos: ## the fault-and-load suite (test/chaos): Sentinel for CHAOS_DURATION (10m; 60s in make test), Cluster a third of it; CHAOS_SEED=N replays
	$(GO) test -race -count=1 -timeout 0 -run '^TestChaos' -v ./test/chaos -chaos.duration=$(CHAOS_DURATION) -chaos.seed=$(CHAOS_SEED)

test-mod-%: ## the tests of the separate module test/% (chart, dockerfile, examples, ...)
	cd test/$* && $(GO) test -count=1 -timeout 10m ./...

test-chart: test-mod-chart test-mod-dockerfile ## render and check the Helm chart and the Dockerfile

test-examples: test-mod-examples ## decode examples/ strictly into the Envoy and Istio API types

fuzz: ## run each fuzz target for FUZZTIME
	$(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME) ./token
	$(GO) test -run '^$$' -fuzz '^FuzzRSAVerify$$' -fuzztime $(FUZZTIME) ./token
	$(GO) test -run '^$$' -fuzz '^FuzzEd25519Verify$$' -fuzztime $(FUZZTIME) ./token
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeHeader$$' -fuzztime $(FUZZTIME) ./token
	$(GO) test -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) ./extauthz
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCheck$$' -fuzztime $(FUZZTIME) ./extauthz
	$(GO) test -run '^$$' -fuzz '^FuzzTape$$' -fuzztime $(FUZZTIME) ./internal/jsontape
	$(GO) test -run '^$$' -fuzz '^FuzzConfigLoad$$' -fuzztime $(FUZZTIME) ./config
	$(GO) test -run '^$$' -fuzz '^FuzzParseSet$$' -fuzztime $(FUZZTIME) ./jwks
	$(GO) test -run '^$$' -fuzz '^FuzzTokenEndpoint$$' -fuzztime $(FUZZTIME) ./issuer
	$(GO) test -run '^$$' -fuzz '^FuzzCreate$$' -fuzztime $(FUZZTIME) ./revocation/adminapi
	$(GO) test -run '^$$' -fuzz '^FuzzLedgerRecord$$' -fuzztime $(FUZZTIME) ./revocation
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeMessage$$' -fuzztime $(FUZZTIME) ./revocation/redis
	$(GO) test -run '^$$' -fuzz '^FuzzAdminGuard$$' -fuzztime $(FUZZTIME) ./cmd/jwt-authz
	$(GO) test -run '^$$' -fuzz '^FuzzClientAddress$$' -fuzztime $(FUZZTIME) ./ratelimit
	$(GO) test -run '^$$' -fuzz '^FuzzCheck$$' -fuzztime $(FUZZTIME) ./dpop
	$(GO) test -run '^$$' -fuzz '^FuzzCanonicalHTU$$' -fuzztime $(FUZZTIME) ./dpop

bench: ## Go benchmarks of the hot paths
	$(GO) test -run '^$$' -bench . -benchmem ./token ./cache ./extauthz ./revocation ./jwks ./internal/jsontape ./ratelimit ./dpop

tidy-check: ## go mod tidy leaves no diff
	$(GO) mod tidy && git diff --exit-code go.mod go.sum

image: ## build the container image (needs a Docker engine)
	docker build --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t jwt-authz:$(VERSION) .
