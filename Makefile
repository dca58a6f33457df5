# The two commands of the quick start, and a few more. Each installs what it needs.
CARGO ?= cargo

.PHONY: demo test bench plugins lint

## Build the plugins and run the end-to-end demo.
demo: plugins
	$(CARGO) run --quiet -p cs-host --example demo

## Build the plugins and run every test.
test: plugins
	$(CARGO) test --workspace

## Run the benchmarks (without backtrace capture, which slows error paths).
bench: plugins
	env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE $(CARGO) bench -p cs-host

## Build every guest plugin from source for wasm32-wasip2.
plugins:
	rustup target add wasm32-wasip2
	cd plugins && $(CARGO) build --release

## Formatting and lints, host and plugins.
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy -p cs-host --lib --no-default-features -- -D warnings
	cd plugins && $(CARGO) fmt --all --check && $(CARGO) clippy --release -- -D warnings
