//! The end-to-end tests: real SQLite files, real plugins built from source, the real `cshost`
//! program and server. One module per area, in one test binary (`cargo test -p cs-host --test all
//! serve::` runs one area), because each test binary would link wasmtime and the whole library
//! again, and the plugins are built once per process.

mod support;

mod access;
mod administration;
mod browser;
mod cli;
mod concurrency;
mod criteria;
mod hooks;
mod import;
mod onboarding;
mod outbox;
mod ownership;
mod plans;
mod plugin_authoring;
mod relationships;
mod sandbox;
mod serve;
mod sharing;
