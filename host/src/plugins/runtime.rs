//! The process-wide plugin runtime: one engine, one linker, the compile cache, the epoch ticker.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::bindings::{self, v0_1};
use super::cache::{self, CompileCache};
use super::error::{PluginError, PluginErrorKind};
use super::instance::PluginInstance;
use super::manifest::{self, Manifest};
use super::store::StoreState;
use super::ticker::{Ticker, Ticking};
use super::{Limits, PluginContext, validate};
use crate::error::{Error, ErrorKind};

/// How often the ticker advances the engine's epoch by default: the resolution of call
/// deadlines.
const EPOCH_TICK: Duration = Duration::from_millis(1);

/// The bytes of each freed memory or table slot that stay resident for the next instance.
const KEEP_RESIDENT: usize = 256 << 10;

/// How the plugin runtime is set up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    cache_dir: Option<PathBuf>,
    max_limits: Limits,
    instances: u32,
    pooled: bool,
    epoch_tick: Duration,
    cached_descriptions: bool,
}

impl Default for RuntimeConfig {
    fn default() -> RuntimeConfig {
        RuntimeConfig {
            cache_dir: None,
            max_limits: Limits::default()
                .deadline(Duration::from_secs(30))
                .fuel(50_000_000_000)
                .memory(256 << 20)
                .output(16 << 20)
                .log(1 << 20)
                .notifications(100)
                .operation_time(Duration::from_secs(3600))
                .operation_fuel(100_000_000_000_000),
            instances: 256,
            pooled: true,
            epoch_tick: EPOCH_TICK,
            cached_descriptions: false,
        }
    }
}

impl RuntimeConfig {
    /// Caches compiled components in this directory, so the next process that loads the same
    /// plugin skips compiling it (about 40 ms per plugin).
    ///
    /// By default, nothing is cached on disk.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> RuntimeConfig {
        self.cache_dir = Some(dir.into());
        self
    }

    /// The platform maxima: no tenant's limits may exceed them.
    ///
    /// By default: deadline 30 s, fuel 50,000,000,000, memory 256 MiB, output 16 MiB,
    /// log 1 MiB, 100 notifications per address, an operation budget of one hour and
    /// 100,000,000,000,000 fuel.
    pub fn max_limits(mut self, limits: Limits) -> RuntimeConfig {
        self.max_limits = limits;
        self
    }

    /// The platform maxima this configuration sets.
    pub(crate) fn max_limits_value(&self) -> &Limits {
        &self.max_limits
    }

    /// The most plugin instances alive at once, across all tenants. Memory for them is
    /// reserved up front (virtual address space only), which makes instantiation fast.
    ///
    /// By default, 256.
    pub fn instances(mut self, instances: u32) -> RuntimeConfig {
        self.instances = instances.max(1);
        self
    }

    /// Whether instances take their memory from a pool reserved when the runtime starts (the
    /// default, sized by [`instances`](Self::instances)), or map it when each one is made.
    ///
    /// The pool makes each instantiation cheap but costs its set-up when the runtime starts:
    /// a process that runs a plugin a few times and exits (`cshost plugin run`) starts faster
    /// without it. Limits, fuel and deadlines are the same either way.
    pub fn instance_pool(mut self, pooled: bool) -> RuntimeConfig {
        self.pooled = pooled;
        self
    }

    /// Whether a plugin found in the compile cache takes its description from the cache entry
    /// instead of being asked again in an instance of its own.
    ///
    /// The description kept with a cached artifact is the one the plugin gave when a host first
    /// loaded those same bytes (the entry is found by a hash of the component's bytes, and its
    /// check code proves this build wrote it), so it is the description of the bytes being
    /// loaded; but a plugin whose description changes from one load to the next (it may read a
    /// clock or randomness) keeps its first answer. A process that runs a plugin once and exits
    /// (`cshost plugin run`) then instantiates it once instead of twice. A host that checks
    /// installed plugins against the manifests recorded at install leaves this off, so that
    /// each load asks the plugin again. Without a cache directory this changes nothing.
    ///
    /// By default, off.
    pub fn cached_descriptions(mut self, cached: bool) -> RuntimeConfig {
        self.cached_descriptions = cached;
        self
    }

    /// How often the ticker thread advances the engine's epoch, which is how often a running
    /// call's deadline is checked: a call that overruns its deadline is stopped within about two
    /// ticks of it (see README "The sandbox" for the measured overshoot and the ticker's cost).
    /// Clamped to 100 µs .. 1 s.
    ///
    /// By default, 1 ms.
    pub fn epoch_tick(mut self, tick: Duration) -> RuntimeConfig {
        self.epoch_tick = tick.clamp(Duration::from_micros(100), Duration::from_secs(1));
        self
    }
}

/// The plugin runtime: loads components and runs them sandboxed.
///
/// Create one per process and share it; it is cheap to clone. Loading a plugin validates and
/// compiles it (or loads it from the compile cache); running it needs a [`PluginContext`] that
/// says for which tenant and under which limits.
#[derive(Clone)]
pub struct PluginRuntime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    linker: Linker<StoreState>,
    cache: Option<CompileCache>,
    max_limits: Limits,
    epoch_tick: Duration,
    cached_descriptions: bool,
    /// Advances the engine's epoch while calls run.
    ticker: Ticker,
}

impl PluginRuntime {
    /// Starts a runtime: builds the engine and the linker, opens the cache. The epoch ticker
    /// starts with the first call.
    pub fn new(config: RuntimeConfig) -> Result<PluginRuntime, Error> {
        let engine_error = |e: wasmtime::Error| Error::new(ErrorKind::Engine(format!("{e:#}")));
        let max = config.max_limits;

        let mut pool = PoolingAllocationConfig::default();
        let slots = config.instances;
        pool.total_component_instances(slots)
            // A Rust component holds a handful of core instances (the plugin and small shims).
            .total_core_instances(slots * 8)
            .total_memories(slots * 2)
            .total_tables(slots * 8)
            // Stacks are pooled for async calls only, and the runtime makes none. The default
            // pool of 1,000 stacks costs one `mprotect` per stack at start-up: over a millisecond.
            .total_stacks(0)
            .max_memory_size(max.memory_value())
            // When a slot is freed, reset only the pages the instance dirtied (found with
            // Linux's PAGEMAP_SCAN) with memset and keep them resident, instead of `madvise`
            // on the whole memory: the next instance in the slot then takes no page faults and
            // the process no TLB shootdowns. Up to this many bytes per memory stay resident.
            .linear_memory_keep_resident(KEEP_RESIDENT)
            .table_keep_resident(KEEP_RESIDENT)
            .pagemap_scan(Enabled::Auto);

        let mut wasm = Config::new();
        wasm.wasm_component_model(true)
            .consume_fuel(true)
            .epoch_interruption(true)
            // Plugins use the synchronous component ABI; without this the store keeps state for
            // concurrent calls that costs about 300 ns on every call.
            .concurrency_support(false)
            .wasm_backtrace_max_frames(None)
            .allocation_strategy(if config.pooled {
                InstanceAllocationStrategy::Pooling(pool)
            } else {
                InstanceAllocationStrategy::OnDemand
            });
        let engine = Engine::new(&wasm).map_err(engine_error)?;

        let mut linker = Linker::new(&engine);
        super::host_api::add_to_linker(&mut linker, StoreState::host_view).map_err(engine_error)?;
        super::wasi::add_to_linker(&mut linker).map_err(engine_error)?;

        let cache = match &config.cache_dir {
            Some(dir) => Some(CompileCache::open(dir, &engine).map_err(|source| {
                Error::new(ErrorKind::Io {
                    path: dir.clone(),
                    source,
                })
            })?),
            None => None,
        };

        Ok(PluginRuntime {
            inner: Arc::new(RuntimeInner {
                ticker: Ticker::new(&engine, config.epoch_tick),
                engine,
                linker,
                cache,
                max_limits: max,
                epoch_tick: config.epoch_tick,
                cached_descriptions: config.cached_descriptions,
            }),
        })
    }

    /// The platform maxima for limits.
    pub fn max_limits(&self) -> &Limits {
        &self.inner.max_limits
    }

    /// How often the epoch advances: call deadlines are counted in these ticks.
    pub(crate) fn epoch_tick(&self) -> Duration {
        self.inner.epoch_tick
    }

    /// Marks a call into a guest as running until the guard is dropped, so the epoch advances
    /// (and the call's deadline can end it). Take it after arming the call's deadline.
    pub(crate) fn ticking(&self) -> Result<Ticking<'_>, PluginErrorKind> {
        self.inner
            .ticker
            .ticking()
            .map_err(|reason| PluginErrorKind::Host { reason })
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Loads a plugin from a `.wasm` file. Errors name the file.
    pub fn load_file(&self, path: impl AsRef<Path>) -> Result<Plugin, PluginError> {
        let path = path.as_ref();
        let label = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            PluginError::new(
                &label,
                PluginErrorKind::IncompatibleComponent {
                    reason: format!("cannot read the file: {e}"),
                },
            )
        })?;
        self.load_as(&label, &bytes)
    }

    /// Loads a plugin from a component's bytes: checks its imports and exports, compiles it (or
    /// takes it from the compile cache) and asks it to describe itself.
    pub fn load(&self, bytes: &[u8]) -> Result<Plugin, PluginError> {
        self.load_as("<component>", bytes)
    }

    fn load_as(&self, label: &str, bytes: &[u8]) -> Result<Plugin, PluginError> {
        let fail = |kind: PluginErrorKind| PluginError::new(label, kind);
        let shape = validate::check(bytes).map_err(fail)?;
        // A component whose memories start over the platform's cap can never run: the plugin's
        // fault, said before compiling it (the instance pool would refuse it as a host error).
        let memory_cap = self.inner.max_limits.memory_value();
        if shape.static_memory > memory_cap as u64 {
            return Err(fail(PluginErrorKind::MemoryLimit { limit: memory_cap }));
        }
        let compiled = self.compile(bytes).map_err(fail)?;
        // A cached manifest is the one these same bytes gave (the cache entry is found by their
        // BLAKE3 hash), SHA-256 included.
        let remembered = compiled.manifest.filter(|_| self.inner.cached_descriptions);
        let hash = match &remembered {
            Some(manifest) => manifest.hash.clone(),
            None => hex::encode(Sha256::digest(bytes)),
        };
        let incompatible = |e: wasmtime::Error| {
            fail(PluginErrorKind::IncompatibleComponent {
                reason: format!("{e:#}"),
            })
        };
        let pre = self
            .inner
            .linker
            .instantiate_pre(&compiled.component)
            .map_err(incompatible)?;
        let contract = Contract::of(shape.version);
        let exports =
            Exports::new(&pre, contract, &shape.extension_points).map_err(incompatible)?;

        let provisional = Manifest {
            name: label.to_owned(),
            version: String::new(),
            description: String::new(),
            contract: shape.version.to_owned(),
            extension_points: shape.extension_points,
            capabilities: Vec::new(),
            config: Vec::new(),
            reads: Vec::new(),
            reads_source: false,
            imports: shape.imports,
            size: bytes.len(),
            hash,
        };
        let mut plugin = Plugin {
            inner: Arc::new(PluginInner {
                runtime: self.clone(),
                manifest: provisional,
                pre,
                exports,
            }),
        };
        // A cached manifest was checked against the exports' types when it was made (the check
        // is a function of the bytes and of this build, both the same); otherwise the plugin is
        // checked and asked in a fresh instance.
        let described = match remembered {
            Some(remembered) => remembered,
            None => {
                let info = plugin
                    .describe()
                    .map_err(|e| PluginError::new(label, e.kind().clone()))?;
                described(plugin.inner.manifest.clone(), info)
            }
        };
        Arc::get_mut(&mut plugin.inner)
            .expect("the plugin is not shared yet")
            .manifest = described;
        let manifest = &plugin.inner.manifest;
        manifest::check_description(manifest).map_err(|reason| {
            fail(PluginErrorKind::InvalidOutput {
                reason: format!("its description is invalid: {reason}"),
            })
        })?;
        // A freshly compiled component is cached only once it has described itself validly,
        // with the manifest it gave.
        if let (Some(cache), Some(artifact)) = (&self.inner.cache, &compiled.artifact) {
            let stored = serde_json::to_vec(manifest)
                .map_err(std::io::Error::other)
                .and_then(|description| cache.store(&compiled.key, artifact, &description));
            if let Err(error) = stored {
                // A cache that cannot be written only costs time: carry on without it.
                tracing::warn!(
                    key = compiled.key,
                    "cannot write the compile cache: {error}"
                );
            }
        }
        Ok(plugin)
    }

    /// The compiled component: from the compile cache (with the description kept there), or
    /// compiled now (with the artifact to cache once the plugin has described itself).
    fn compile(&self, bytes: &[u8]) -> Result<Compiled, PluginErrorKind> {
        let engine = &self.inner.engine;
        let Some(cache) = &self.inner.cache else {
            let component = Component::new(engine, bytes).map_err(|e| {
                PluginErrorKind::IncompatibleComponent {
                    reason: format!("{e:#}"),
                }
            })?;
            return Ok(Compiled {
                component,
                key: String::new(),
                manifest: None,
                artifact: None,
            });
        };
        let key = cache::content_key(bytes);
        if let Some(cached) = cache.load(engine, &key) {
            return Ok(Compiled {
                component: cached.component,
                manifest: serde_json::from_slice(&cached.description).ok(),
                key,
                artifact: None,
            });
        }
        let artifact = engine.precompile_component(bytes).map_err(|e| {
            PluginErrorKind::IncompatibleComponent {
                reason: format!("{e:#}"),
            }
        })?;
        // SAFETY: the artifact was just produced by this engine's `precompile_component`.
        let component = unsafe { Component::deserialize(engine, &artifact) }.map_err(|e| {
            PluginErrorKind::Host {
                reason: format!("cannot load a freshly compiled component: {e:#}"),
            }
        })?;
        Ok(Compiled {
            component,
            key,
            manifest: None,
            artifact: Some(artifact),
        })
    }
}

/// A compiled component, and what the compile cache knows of it.
struct Compiled {
    component: Component,
    /// Its compile cache key (empty without a cache).
    key: String,
    /// The manifest kept with it in the cache, if it came from there with one.
    manifest: Option<Manifest>,
    /// The artifact to cache, if it was compiled now.
    artifact: Option<Vec<u8>>,
}

/// `manifest` with what the plugin said about itself.
fn described(mut manifest: Manifest, info: v0_1::t::PluginInfo) -> Manifest {
    manifest.name = info.name;
    manifest.version = info.version;
    manifest.description = info.description;
    manifest.capabilities = info
        .capabilities
        .into_iter()
        .map(bindings::capability)
        .collect();
    manifest.capabilities.sort();
    manifest.capabilities.dedup();
    manifest.config = info.config.into_iter().map(bindings::config_key).collect();
    manifest.reads = info.reads;
    manifest.reads_source = info.reads_source;
    manifest
}

/// A loaded plugin: compiled, linked, and described. Cheap to clone and share across threads.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<PluginInner>,
}

pub(crate) struct PluginInner {
    pub(crate) runtime: PluginRuntime,
    pub(crate) manifest: Manifest,
    pub(crate) pre: InstancePre<StoreState>,
    pub(crate) exports: Exports,
}

/// A contract version the host serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Contract {
    /// `cs:plugin@0.1.0`: a field mapper maps one row per call.
    V0_1,
    /// `cs:plugin@0.2.0`: a field mapper maps a batch of rows per call.
    V0_2,
}

impl Contract {
    /// The version a component speaks, as [`validate`] read it from its exports.
    fn of(version: &str) -> Contract {
        match version {
            "0.2.0" => Contract::V0_2,
            _ => Contract::V0_1,
        }
    }

    /// The version, such as `0.1.0`.
    pub(crate) fn version(self) -> &'static str {
        match self {
            Contract::V0_1 => "0.1.0",
            Contract::V0_2 => "0.2.0",
        }
    }
}

/// Where each export of the component lives, looked up once at load time. Only the field
/// mapper's interface differs between the contract versions; the other hooks' functions have the
/// same types in both.
pub(crate) struct Exports {
    pub(crate) contract: Contract,
    pub(crate) describe: ComponentExportIndex,
    pub(crate) field_mapper: Option<FieldMapperIndices>,
    pub(crate) matches: Option<ComponentExportIndex>,
    pub(crate) on_plan_shared: Option<ComponentExportIndex>,
    pub(crate) on_partner_created: Option<ComponentExportIndex>,
}

/// The field mapper's exports, by contract version.
pub(crate) enum FieldMapperIndices {
    V0_1(v0_1::field_mapper::GuestIndices),
    V0_2(bindings::v0_2::field_mapper::GuestIndices),
}

impl Exports {
    fn new(
        pre: &InstancePre<StoreState>,
        contract: Contract,
        points: &[super::ExtensionPoint],
    ) -> wasmtime::Result<Exports> {
        use super::ExtensionPoint as P;
        let has = |point| points.contains(&point);
        let func = |point: P, name: &str| -> wasmtime::Result<Option<ComponentExportIndex>> {
            if !has(point) {
                return Ok(None);
            }
            func_index(pre, contract, point.interface(), name).map(Some)
        };
        Ok(Exports {
            contract,
            describe: func_index(pre, contract, "metadata", "describe")?,
            field_mapper: match (has(P::FieldMapper), contract) {
                (false, _) => None,
                (true, Contract::V0_1) => Some(FieldMapperIndices::V0_1(
                    v0_1::field_mapper::GuestIndices::new(pre)?,
                )),
                (true, Contract::V0_2) => Some(FieldMapperIndices::V0_2(
                    bindings::v0_2::field_mapper::GuestIndices::new(pre)?,
                )),
            },
            matches: func(P::CriteriaFilter, "matches")?,
            on_plan_shared: func(P::Notifier, "on-plan-shared")?,
            on_partner_created: func(P::Lifecycle, "on-partner-created")?,
        })
    }
}

/// The index of the function `name` of the contract's interface `interface`.
fn func_index(
    pre: &InstancePre<StoreState>,
    contract: Contract,
    interface: &str,
    name: &str,
) -> wasmtime::Result<ComponentExportIndex> {
    let component = pre.component();
    let full = format!("cs:plugin/{interface}@{}", contract.version());
    let parent = component
        .get_export_index(None, &full)
        .ok_or_else(|| wasmtime::format_err!("the component does not export `{full}`"))?;
    component
        .get_export_index(Some(&parent), name)
        .ok_or_else(|| wasmtime::format_err!("its export `{full}` has no function `{name}`"))
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let manifest = &self.inner.manifest;
        f.debug_struct("Plugin")
            .field("name", &manifest.name)
            .field("version", &manifest.version)
            .field("hash", &manifest.hash)
            .finish_non_exhaustive()
    }
}

impl Plugin {
    /// What the plugin is and what it asks for.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.inner.manifest.name
    }

    pub(crate) fn inner(&self) -> &PluginInner {
        &self.inner
    }

    /// Starts an instance of the plugin for one operation of one tenant.
    ///
    /// The instance is created on the first call. It serves the calls of one operation (all the
    /// rows of one import, say) and is never shared with another tenant or operation. After a
    /// crash it is replaced by a fresh one before the next call.
    pub fn instantiate(&self, context: &PluginContext) -> PluginInstance {
        PluginInstance::new(self.clone(), context.clone())
    }

    /// Type-checks the plugin's exports against the contract and asks it to describe itself, in
    /// a fresh instance with default limits and nothing granted.
    fn describe(&self) -> Result<v0_1::t::PluginInfo, PluginError> {
        let mut instance = self.instantiate(&PluginContext::new("<install>"));
        instance.check_exports()?;
        instance.describe()
    }
}
