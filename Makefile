# mfagate — the two commands a new machine needs: `make demo` and `make test`.
GO      ?= go
PKGS    ?= ./...
FUZZTIME ?= 10s

.PHONY: all deps build demo test vet staticcheck fmt-check fuzz-smoke clean e2e

all: build

# Debian packages the build and tests need (apt-get as root, else prints the command).
deps:
	@bash scripts/deps.sh

build:
	$(GO) build -o bin/ ./cmd/...

# The demo keeps its state in .demo/ so that `mfagatectl -demo-dir .demo` finds its
# address (demo.url) and tokens; another address: make demo DEMO_LISTEN=127.0.0.1:8471
DEMO_DIR ?= .demo
DEMO_LISTEN ?= 127.0.0.1:8470
demo: deps
	$(GO) run ./cmd/mfagated -demo -state-dir $(DEMO_DIR) -listen $(DEMO_LISTEN)

vet:
	$(GO) vet $(PKGS)

# staticcheck 2026.2.2, pinned by its module version. "go run pkg@version"
# fetches it through the module proxy (checked against the checksum
# database) and caches the build, without adding it to go.mod.
STATICCHECK_VERSION ?= v0.8.2
staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

test: deps fmt-check vet staticcheck
	$(GO) test -count=1 -timeout 20m $(PKGS)
	@$(MAKE) --no-print-directory e2e

# The kiosk page in Debian's Chromium against mfagated -demo (playwright-core from npm).
e2e: deps
	@GO=$(GO) bash scripts/e2e.sh

# Runs each fuzz target briefly; the seeds also run in every `make test`.
fuzz-smoke:
	@bash scripts/fuzz-smoke.sh $(FUZZTIME)

clean:
	rm -rf bin

# Staged installation (packaging, or a server by hand; systemd/README.md has the steps after it):
#   make install DESTDIR=/tmp/stage PREFIX=/usr
# Builds mfagated and mfagatectl and stages them with the systemd unit, sysusers.d and
# tmpfiles.d entries, udev rules and the example configuration. An existing
# $(DESTDIR)/etc/mfagate/mfagate.toml is never overwritten.
PREFIX      ?= /usr
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
UNITDIR     ?= /lib/systemd/system
UDEVRULESDIR ?= /lib/udev/rules.d
SYSUSERSDIR ?= /usr/lib/sysusers.d
TMPFILESDIR ?= /usr/lib/tmpfiles.d
DOCDIR      ?= /usr/share/doc/mfagate
CONFDIR     ?= /etc/mfagate
INSTALL_BUILDDIR ?= bin/install

.PHONY: install
install:
	$(GO) build -o $(INSTALL_BUILDDIR)/ ./cmd/mfagated ./cmd/mfagatectl
	install -D -m 0755 $(INSTALL_BUILDDIR)/mfagated $(DESTDIR)$(BINDIR)/mfagated
	install -D -m 0755 $(INSTALL_BUILDDIR)/mfagatectl $(DESTDIR)$(BINDIR)/mfagatectl
	sed 's|^ExecStart=/usr/bin/|ExecStart=$(BINDIR)/|' systemd/mfagated.service > $(INSTALL_BUILDDIR)/mfagated.service
	install -D -m 0644 $(INSTALL_BUILDDIR)/mfagated.service $(DESTDIR)$(UNITDIR)/mfagated.service
	install -D -m 0644 systemd/mfagate.sysusers $(DESTDIR)$(SYSUSERSDIR)/mfagate.conf
	install -D -m 0644 systemd/mfagate.tmpfiles $(DESTDIR)$(TMPFILESDIR)/mfagate.conf
	install -D -m 0644 systemd/90-mfagate.rules $(DESTDIR)$(UDEVRULESDIR)/90-mfagate.rules
	install -D -m 0644 systemd/mfagate.toml $(DESTDIR)$(DOCDIR)/mfagate.toml.example
	install -D -m 0644 systemd/README.md $(DESTDIR)$(DOCDIR)/README.systemd.md
	@if [ -e $(DESTDIR)$(CONFDIR)/mfagate.toml ]; then \
		echo "kept $(DESTDIR)$(CONFDIR)/mfagate.toml; compare it with $(DOCDIR)/mfagate.toml.example"; \
	else \
		install -d -m 0750 $(DESTDIR)$(CONFDIR); \
		echo "install -D -m 0640 systemd/mfagate.toml $(DESTDIR)$(CONFDIR)/mfagate.toml"; \
		install -D -m 0640 systemd/mfagate.toml $(DESTDIR)$(CONFDIR)/mfagate.toml; \
	fi

# Performance figures against the alternatives, measured in one run on this machine
# (docs/performance.md): a table on stdout and bench/results.json; then figure 7
# (listing and pruning with a million rows, minutes of seeding) into
# bench/results-scale.json. `make bench-main` runs figures 1-6 alone.
.PHONY: bench bench-main bench-scale bench-quick
bench: bench-main bench-scale

bench-main:
	$(GO) run ./bench -o bench/results.json

bench-scale:
	$(GO) run ./bench -only scale -o bench/results-scale.json

bench-quick:
	$(GO) run ./bench -quick -o bench/results.json
