# mfagate — the two commands a new machine needs: `make demo` and `make test`.
GO      ?= go
PKGS    ?= ./...
FUZZTIME ?= 10s

.PHONY: all deps build demo test vet fmt-check fuzz-smoke clean

all: build

# Debian packages the build and tests need (apt-get as root, else prints the command).
deps:
	@bash scripts/deps.sh

build:
	$(GO) build -o bin/ ./cmd/...

# The demo keeps its state in .demo/ so that `mfagatectl -demo-dir .demo` finds its token.
DEMO_DIR ?= .demo
demo: deps
	$(GO) run ./cmd/mfagated -demo -state-dir $(DEMO_DIR)

vet:
	$(GO) vet $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

test: deps fmt-check vet
	$(GO) test -count=1 -timeout 20m $(PKGS)

# Runs each fuzz target briefly; the seeds also run in every `make test`.
fuzz-smoke:
	@bash scripts/fuzz-smoke.sh $(FUZZTIME)

clean:
	rm -rf bin
