//! The on-disk cache of compiled components, keyed by the component's content hash.
//!
//! Loading a compiled artifact runs native code that was produced earlier, so the cache only
//! trusts artifacts it can prove a build of the same host wrote: each file carries an HMAC over
//! its contents, keyed by the key compiled into this build (derived from its sources, compiler
//! and settings by `build.rs`, plus `CS_HOST_BUILD_SECRET` when the build set one) and by the
//! engine's configuration. Any other file (from another build, truncated, edited) is a miss and
//! is replaced.
//!
//! A file is the artifact as wasmtime wrote it, followed by the tag and a magic number: the
//! artifact starts the file, so wasmtime can map the file itself instead of copying it into
//! memory of its own (a short command's start-up reads one plugin from the cache, and copying
//! it was a sixth of that start-up's time). The tag is checked while reading the file through a
//! small buffer, from the same open file wasmtime then maps; files are only ever replaced whole
//! (written beside and renamed over), so what was checked is what runs.

use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 8] = b"CSHOSTC2";
const TAG_LEN: usize = 32;
/// The bytes after the artifact: its tag, then the magic number.
const TRAILER_LEN: usize = TAG_LEN + MAGIC.len();

/// A directory of compiled components.
pub(crate) struct CompileCache {
    dir: PathBuf,
    key: [u8; 32],
}

impl CompileCache {
    /// Opens (and creates) the cache directory for artifacts of this engine.
    pub(crate) fn open(dir: &Path, engine: &Engine) -> io::Result<CompileCache> {
        fs::create_dir_all(dir)?;
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let mut key = Hmac::<Sha256>::new_from_slice(env!("CS_HOST_BUILD_KEY").as_bytes())
            .expect("HMAC takes keys of any length");
        key.update(&engine_hash.finish().to_le_bytes());
        Ok(CompileCache {
            dir: dir.to_owned(),
            key: key.finalize().into_bytes().into(),
        })
    }

    fn path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}.cwasm"))
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    /// The compiled component for `hash`, if this build cached one.
    pub(crate) fn load(&self, engine: &Engine, hash: &str) -> Option<Component> {
        let mut file = File::open(self.path(hash)).ok()?;
        if !self.verify(&mut file).ok()? {
            return None;
        }
        // SAFETY: the artifact was written by `store` in a build of the same host (its HMAC,
        // keyed by this build's key, matches), from `Engine::precompile_component` on an engine
        // of the same configuration; `map` loads the very file that was checked.
        let component = unsafe { map(engine, &file) };
        match component {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(
                    hash,
                    "discarding a cached artifact that does not load: {error:#}"
                );
                None
            }
        }
    }

    /// Whether the tag at the end of `file` proves this build wrote the artifact before it.
    fn verify(&self, file: &mut File) -> io::Result<bool> {
        let len = file.metadata()?.len();
        let Some(artifact_len) = len.checked_sub(TRAILER_LEN as u64) else {
            return Ok(false);
        };
        let mut trailer = [0u8; TRAILER_LEN];
        file.seek(SeekFrom::Start(artifact_len))?;
        file.read_exact(&mut trailer)?;
        let (tag, magic) = trailer.split_at(TAG_LEN);
        if magic != MAGIC {
            return Ok(false);
        }
        file.seek(SeekFrom::Start(0))?;
        let mut mac = self.mac();
        let mut artifact = (&*file).take(artifact_len);
        let mut buffer = [0u8; 64 << 10];
        let mut read = 0u64;
        loop {
            let n = artifact.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            mac.update(&buffer[..n]);
            read += n as u64;
        }
        Ok(read == artifact_len && mac.verify_slice(tag).is_ok())
    }

    /// Writes a compiled artifact. The file appears whole or not at all.
    pub(crate) fn store(&self, hash: &str, artifact: &[u8]) -> io::Result<()> {
        let mut mac = self.mac();
        mac.update(artifact);
        let tag = mac.finalize().into_bytes();
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
        file.write_all(artifact)?;
        file.write_all(&tag)?;
        file.write_all(MAGIC)?;
        file.persist(self.path(hash)).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Loads the component in a cache file that [`CompileCache::verify`] accepted, by mapping it.
///
/// On Linux the open file is mapped through `/proc/self/fd`, which opens the same file even if
/// another process has since renamed a new one over its name.
///
/// # Safety
///
/// `file` must hold an artifact of `Engine::precompile_component` on an engine of `engine`'s
/// configuration, followed by the cache's trailer.
#[cfg(target_os = "linux")]
unsafe fn map(engine: &Engine, file: &File) -> wasmtime::Result<Component> {
    use std::os::fd::AsRawFd;
    let path = format!("/proc/self/fd/{}", file.as_raw_fd());
    // SAFETY: as this function's.
    unsafe { Component::deserialize_file(engine, path) }
}

/// Loads the component in a cache file that [`CompileCache::verify`] accepted, from a copy of
/// its bytes (elsewhere than Linux there is no way to map the open file itself).
///
/// # Safety
///
/// As the Linux version's.
#[cfg(not(target_os = "linux"))]
unsafe fn map(engine: &Engine, mut file: &File) -> wasmtime::Result<Component> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    bytes.truncate(bytes.len().saturating_sub(TRAILER_LEN));
    // SAFETY: as this function's.
    unsafe { Component::deserialize(engine, &bytes) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `cache` accepts `bytes` as a cache file.
    fn accepts(cache: &CompileCache, bytes: &[u8]) -> bool {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        cache.verify(&mut file).unwrap()
    }

    #[test]
    fn refuses_artifacts_it_did_not_sign() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = CompileCache::open(dir.path(), &engine).unwrap();
        cache.store("abc", b"artifact").unwrap();
        let bytes = fs::read(cache.path("abc")).unwrap();
        assert!(
            bytes.starts_with(b"artifact"),
            "the artifact starts the file"
        );
        assert!(accepts(&cache, &bytes));

        let mut edited = bytes.clone();
        edited[0] ^= 1;
        assert!(!accepts(&cache, &edited));
        let mut edited = bytes.clone();
        *edited.last_mut().unwrap() ^= 1;
        assert!(!accepts(&cache, &edited));
        assert!(!accepts(&cache, &bytes[..20]));
        assert!(!accepts(&cache, &bytes[1..]));
        assert!(!accepts(&cache, b""));

        let mut other_build = CompileCache::open(dir.path(), &engine).unwrap();
        other_build.key[0] ^= 1;
        assert!(!accepts(&other_build, &bytes));
    }

    #[test]
    fn a_cached_component_loads_from_the_file_it_was_checked_in() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(wasmtime::Config::new().wasm_component_model(true)).unwrap();
        let cache = CompileCache::open(dir.path(), &engine).unwrap();
        // An empty component: the header alone.
        let artifact = engine.precompile_component(b"\0asm\x0d\0\x01\0").unwrap();
        cache.store("empty", &artifact).unwrap();
        assert!(cache.load(&engine, "empty").is_some());
        // A file put in its place is a miss, not loaded.
        fs::write(cache.path("empty"), &artifact).unwrap();
        assert!(cache.load(&engine, "empty").is_none());
    }
}
