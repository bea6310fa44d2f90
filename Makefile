# Run `make` or `make help` to list the targets.

GO       ?= go
TEST_CMD := $(GO) test -race -count=1 -shuffle=on -timeout 20m ./...

.DEFAULT_GOAL := help

.PHONY: help run build fmt vet lint generate ensure-generated test test-short bench ci precommit clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

run: ## Run the whole site in one process (go run ./cmd/tessera)
	$(GO) run ./cmd/tessera

build: ## Build every binary into bin/
	$(GO) build -o bin/ ./cmd/...

fmt: ## Format Go and templ sources
	gofmt -w .
	$(GO) tool templ fmt .

vet: ## Run go vet
	$(GO) vet ./...

lint: ## Run staticcheck (pinned in go.mod)
	$(GO) tool staticcheck ./...

generate: ## Regenerate *_templ.go from *.templ
	$(GO) tool templ generate

ensure-generated: generate ## Fail if generated templ code differs from what is committed
	git diff --exit-code -- '*_templ.go'
	@untracked="$$(git ls-files --others --exclude-standard -- '*_templ.go')"; \
	if [ -n "$$untracked" ]; then echo "not committed:"; echo "$$untracked"; exit 1; fi

test: ## Run all tests with the race detector, as CI does
	$(TEST_CMD)

test-short: ## Run the quick tests (-short skips browser tests)
	$(GO) test -short ./...

bench: ## Run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

ci: ## Run the CI script (.ci/run)
	bash .ci/run

precommit: fmt vet lint ensure-generated test-short ## Format, vet, check generated code and run the quick tests

clean: ## Remove build output
	rm -rf bin/
