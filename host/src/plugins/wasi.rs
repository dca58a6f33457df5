//! WASI served deny-by-default, for guest toolchains that import it.
//!
//! A plugin gets clocks, randomness, an empty environment, no arguments, no stdin, a filesystem
//! with nothing preopened, and stdout and stderr that write to its log. Sockets are never linked:
//! a component that imports them is refused at install time.
//!
//! Waits are the one place where a guest runs host code for as long as it likes: a guest blocked
//! in `wasi:io/poll` (`std::thread::sleep`, `pollable.block`) is out of reach of the epoch
//! deadline, which only interrupts guest code. So `poll` and `block` are served here, bounded by
//! the call's deadline: a wait still pending at the deadline ends the call with
//! [`WaitPastDeadline`].

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream, WasiCli, WasiCliView as _};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView as _};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sync};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::runtime::in_tokio;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_io::bindings::wasi::io::poll as async_poll;
use wasmtime_wasi_io::poll::DynPollable;

use super::log::{LogBuffer, LogLevel};

/// The WASI state of one store, built on the first WASI call.
pub(crate) struct WasiState {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiState {
    /// A context with nothing granted, whose stdout and stderr go to `log`.
    pub(crate) fn new(log: &Arc<Mutex<LogBuffer>>) -> WasiState {
        let ctx = WasiCtxBuilder::new()
            .stdout(LogStream {
                log: log.clone(),
                level: LogLevel::Info,
            })
            .stderr(LogStream {
                log: log.clone(),
                level: LogLevel::Warn,
            })
            .build();
        WasiState {
            ctx,
            table: ResourceTable::new(),
        }
    }

    pub(crate) fn view(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }

    /// The view `wasi:io/poll` is served through: waits end at `ends_at`.
    pub(crate) fn waits(&mut self, ends_at: Instant) -> DeadlineWaits<'_> {
        DeadlineWaits {
            table: &mut self.table,
            ends_at,
        }
    }
}

/// Store data that serves WASI to plugins, and knows when the current call must end.
pub(crate) trait PluginWasi: WasiView {
    /// The resource table, with the instant the current call must end by.
    fn waits(&mut self) -> DeadlineWaits<'_>;
}

/// `wasi:io/poll` over a store's resource table, bounded by the current call's deadline.
pub(crate) struct DeadlineWaits<'a> {
    table: &'a mut ResourceTable,
    ends_at: Instant,
}

/// A plugin was still waiting in `wasi:io/poll` when its call's deadline passed.
#[derive(Debug)]
pub(crate) struct WaitPastDeadline;

impl std::fmt::Display for WaitPastDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the plugin was still waiting when its deadline passed")
    }
}

impl std::error::Error for WaitPastDeadline {}

impl DeadlineWaits<'_> {
    /// Runs a wait until it ends or the deadline passes, whichever comes first.
    fn bounded<R>(
        &mut self,
        wait: impl AsyncFnOnce(&mut ResourceTable) -> wasmtime::Result<R>,
    ) -> wasmtime::Result<R> {
        let ends_at = tokio::time::Instant::from_std(self.ends_at);
        let table = &mut *self.table;
        in_tokio(async move { tokio::time::timeout_at(ends_at, wait(table)).await })
            .map_err(|_elapsed| WaitPastDeadline)?
    }
}

impl sync::io::poll::Host for DeadlineWaits<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        self.bounded(async move |table| async_poll::Host::poll(table, pollables).await)
    }
}

impl sync::io::poll::HostPollable for DeadlineWaits<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        // `ready` never waits; it only asks.
        in_tokio(async { async_poll::HostPollable::ready(self.table, pollable).await })
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        self.bounded(async move |table| async_poll::HostPollable::block(table, pollable).await)
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::drop(self.table, pollable)
    }
}

struct Waits;

impl wasmtime::component::HasData for Waits {
    type Data<'a> = DeadlineWaits<'a>;
}

/// Links the WASI interfaces plugins may import, and nothing else.
pub(crate) fn add_to_linker<T: PluginWasi + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    let l = linker;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    random::random::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    sync::filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    wasmtime_wasi_io::bindings::wasi::io::error::add_to_linker::<T, HasTable>(l, |t| {
        t.ctx().table
    })?;
    sync::io::poll::add_to_linker::<T, Waits>(l, T::waits)?;
    sync::io::streams::add_to_linker::<T, HasTable>(l, |t| t.ctx().table)?;
    Ok(())
}

struct HasTable;

impl wasmtime::component::HasData for HasTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// A plugin's stdout or stderr: complete lines go to its log at `level`.
#[derive(Clone)]
struct LogStream {
    log: Arc<Mutex<LogBuffer>>,
    level: LogLevel,
}

impl LogStream {
    fn write_bytes(&self, bytes: &[u8]) {
        if let Ok(mut log) = self.log.lock() {
            log.write_stream(self.level, bytes);
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for LogStream {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always ready: the log drops what is over its cap instead of blocking the plugin.
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
