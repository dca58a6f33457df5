# The two commands of the quick start, and a few more. Each installs what it needs.
CARGO ?= cargo

.PHONY: demo test bench plugins js-plugins lint

JS := plugins/js

## Build the plugins and run the end-to-end demo.
demo: plugins
	$(CARGO) run --quiet -p cs-host --example demo

## Build the plugins and run every test.
test: plugins js-plugins
	$(CARGO) test --workspace

## Run the benchmarks (without backtrace capture, which slows error paths).
bench: plugins
	env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE $(CARGO) bench -p cs-host

## Build every guest plugin from source for wasm32-wasip2.
plugins:
	rustup target add wasm32-wasip2
	cd plugins && $(CARGO) build --release

## The JavaScript SDK's toolchain (componentize-js, esbuild), from its lock file, and the
## JavaScript example plugins. A build whose bundled source is unchanged is a cache hit.
js-plugins: $(JS)/node_modules/.package-lock.json
	node $(JS)/bin/cs-plugin-build.mjs $(JS)/examples/normalize-partner-js/plugin.js \
		-o target/js-plugins/normalize_partner_js.wasm --cache target/js-plugins/cache
	node $(JS)/bin/cs-plugin-build.mjs $(JS)/examples/share-digest-ts/plugin.ts \
		-o target/js-plugins/share_digest_ts.wasm --cache target/js-plugins/cache

$(JS)/node_modules/.package-lock.json: $(JS)/package-lock.json
	cd $(JS) && npm ci --no-audit --no-fund

## Formatting and lints, host and plugins.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy -p cs-host --lib --no-default-features -- -D warnings
	cd plugins && $(CARGO) fmt --all --check && $(CARGO) clippy --release -- -D warnings
