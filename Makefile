# The two commands of the quick start, and a few more. Each installs what it needs.
CARGO ?= cargo

.PHONY: demo test test-build bench plugins js-plugins browser-tools screenshots lint

JS := plugins/js
# apt-get needs root: through sudo for anyone else.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# CI builds a clean clone once: an incremental cache would only be written, never read, and
# writing it slows the compile of the workspace's own crates.
ifeq ($(CI),true)
export CARGO_INCREMENTAL ?= 0
endif

## Build the plugins and run the end-to-end demo.
demo: plugins
	$(CARGO) run --quiet -p cs-host --example demo

## Build the plugins and run every test (the browser tests need chromium: see browser-tools).
## The host's tests compile while the guest plugins build and the tools install: the two cargo
## builds lock different build directories (target/debug, target/wasm32-wasip2/release), and
## make's job slots (-j3) cap the compilers running at once, cargo's included.
test:
	+$(MAKE) --no-print-directory -j3 --output-sync=target test-build plugins js-plugins browser-tools
	$(CARGO) test --workspace

## Compile every test of the workspace without running any.
test-build:
	+$(CARGO) test --workspace --no-run

## Run the benchmarks (without backtrace capture, which slows error paths).
bench: plugins
	env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE $(CARGO) bench -p cs-host

## Build every guest plugin from source for wasm32-wasip2.
plugins:
	rustup target add wasm32-wasip2
	+cd plugins && $(CARGO) build --release

## The JavaScript SDK's toolchain (componentize-js, esbuild), from its lock file, and the
## JavaScript example plugins (the field mapper for both contracts, as the tests load them). A
## build whose bundled source is unchanged is a cache hit.
js-plugins: $(JS)/node_modules/.package-lock.json
	node $(JS)/bin/cs-plugin-build.mjs $(JS)/examples/normalize-partner-js/plugin.js \
		-o target/js-plugins/normalize_partner_js.wasm --cache target/js-plugins/cache
	node $(JS)/bin/cs-plugin-build.mjs $(JS)/examples/normalize-partner-js/plugin.js \
		--contract 0.2.0 -o target/js-plugins/normalize_partner_js_v0_2.wasm \
		--cache target/js-plugins/cache
	node $(JS)/bin/cs-plugin-build.mjs $(JS)/examples/share-digest-ts/plugin.ts \
		-o target/js-plugins/share_digest_ts.wasm --cache target/js-plugins/cache

$(JS)/node_modules/.package-lock.json: $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund

## Headless Chromium and its WebDriver server for the browser tests (tests/browser.rs), from
## Debian's packages, when missing.
browser-tools:
	command -v chromedriver >/dev/null || \
		($(SUDO) apt-get update && \
		 $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver)

## Screenshots of the console and the recipient's plan page for the README (docs/screenshots/).
screenshots: plugins browser-tools
	CSHOST_SCREENSHOTS=docs/screenshots $(CARGO) test -p cs-host --test all browser::

## Formatting and lints, host and plugins.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy -p cs-host --lib --no-default-features -- -D warnings
	cd plugins && $(CARGO) fmt --all --check && $(CARGO) clippy --release -- -D warnings
