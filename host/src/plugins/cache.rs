//! The on-disk cache of compiled components, keyed by the component's content hash (BLAKE3).
//!
//! Loading a compiled artifact runs native code that was produced earlier, so the cache only
//! trusts artifacts it can prove a build of the same host wrote: each file carries a check code
//! (keyed BLAKE3) over its name and contents, keyed by the key compiled into this build (derived
//! from its sources, compiler and settings by `build.rs`, plus `CS_HOST_BUILD_SECRET` when the
//! build set one) and by the engine's configuration. Any other file (from another build,
//! truncated, edited, renamed from another entry) is a miss and is replaced.
//!
//! A file is the artifact as wasmtime wrote it, then the plugin's description as the host
//! recorded it when it first loaded those bytes, then the description's length, the check code
//! and a magic number: the artifact starts the file, so wasmtime can map the file itself instead
//! of copying it into memory of its own (a short command's start-up reads one plugin from the
//! cache, and copying it was a sixth of that start-up's time). The check code is verified while
//! reading the file through a small buffer, from the same open file wasmtime then maps; files
//! are only ever replaced whole (written beside and renamed over), so what was checked is what
//! runs.

use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 8] = b"CSHOSTC4";
const TAG_LEN: usize = 32;
/// The bytes after the description: its length (u32, little-endian), the check code, the magic
/// number.
const TRAILER_LEN: usize = 4 + TAG_LEN + MAGIC.len();
/// The longest description a cache file may hold; a longer length is a damaged file.
const MAX_DESCRIPTION: u32 = 1 << 20;

/// The compile cache's key for a component: the BLAKE3 hash of its bytes, in hex.
pub(crate) fn content_key(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// A directory of compiled components.
pub(crate) struct CompileCache {
    dir: PathBuf,
    key: [u8; 32],
}

/// A component found in the cache.
pub(crate) struct Cached {
    pub(crate) component: Component,
    /// The description stored with it (empty when none was).
    pub(crate) description: Vec<u8>,
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

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.cwasm"))
    }

    /// The check code's hasher for the entry `name`, which it covers first: a file renamed from
    /// another entry does not check.
    fn mac(&self, name: &str) -> blake3::Hasher {
        let mut mac = blake3::Hasher::new_keyed(&self.key);
        mac.update(&(name.len() as u64).to_le_bytes());
        mac.update(name.as_bytes());
        mac
    }

    /// The compiled component stored as `name`, with its description, if this build cached it.
    pub(crate) fn load(&self, engine: &Engine, name: &str) -> Option<Cached> {
        let mut file = File::open(self.path(name)).ok()?;
        let description = self.verify(&mut file, name).ok()??;
        // SAFETY: the artifact was written by `store` in a build of the same host (its check
        // code, keyed by this build's key, matches), from `Engine::precompile_component` on an
        // engine of the same configuration; `map` loads the very file that was checked.
        let component = unsafe { map(engine, &file) };
        match component {
            Ok(component) => Some(Cached {
                component,
                description,
            }),
            Err(error) => {
                tracing::warn!(
                    name,
                    "discarding a cached artifact that does not load: {error:#}"
                );
                None
            }
        }
    }

    /// The description stored in `file`, if its check code proves this build wrote it as the
    /// entry `name`; `None` if not.
    fn verify(&self, file: &mut File, name: &str) -> io::Result<Option<Vec<u8>>> {
        let len = file.metadata()?.len();
        let Some(stored_len) = len.checked_sub(TRAILER_LEN as u64) else {
            return Ok(None);
        };
        let mut trailer = [0u8; TRAILER_LEN];
        file.seek(SeekFrom::Start(stored_len))?;
        file.read_exact(&mut trailer)?;
        let (description_len, rest) = trailer.split_at(4);
        let (tag, magic) = rest.split_at(TAG_LEN);
        if magic != MAGIC {
            return Ok(None);
        }
        let description_len = u32::from_le_bytes(description_len.try_into().expect("4 bytes"));
        if description_len > MAX_DESCRIPTION {
            return Ok(None);
        }
        let Some(artifact_len) = stored_len.checked_sub(u64::from(description_len)) else {
            return Ok(None);
        };
        file.seek(SeekFrom::Start(0))?;
        let mut mac = self.mac(name);
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
        if read != artifact_len {
            return Ok(None);
        }
        let mut description = vec![0u8; description_len as usize];
        file.read_exact(&mut description)?;
        mac.update(&description);
        mac.update(&description_len.to_le_bytes());
        // `blake3::Hash` compares in constant time.
        let tag: [u8; TAG_LEN] = tag.try_into().expect("TAG_LEN bytes");
        Ok((mac.finalize() == blake3::Hash::from_bytes(tag)).then_some(description))
    }

    /// Writes a compiled artifact with the description to keep beside it, as the entry `name`.
    /// The file appears whole or not at all.
    pub(crate) fn store(&self, name: &str, artifact: &[u8], description: &[u8]) -> io::Result<()> {
        let description_len = u32::try_from(description.len())
            .ok()
            .filter(|len| *len <= MAX_DESCRIPTION)
            .ok_or_else(|| io::Error::other("the plugin's description is too long to cache"))?;
        let mut mac = self.mac(name);
        mac.update(artifact);
        mac.update(description);
        mac.update(&description_len.to_le_bytes());
        let tag = mac.finalize();
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
        file.write_all(artifact)?;
        file.write_all(description)?;
        file.write_all(&description_len.to_le_bytes())?;
        file.write_all(tag.as_bytes())?;
        file.write_all(MAGIC)?;
        file.persist(self.path(name)).map_err(|e| e.error)?;
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

    /// The description `cache` finds in `bytes` as the entry `name`, if it accepts the file.
    fn accepts_as(cache: &CompileCache, name: &str, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        cache.verify(&mut file, name).unwrap()
    }

    fn accepts(cache: &CompileCache, bytes: &[u8]) -> bool {
        accepts_as(cache, "abc", bytes).is_some()
    }

    #[test]
    fn refuses_artifacts_it_did_not_sign() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = CompileCache::open(dir.path(), &engine).unwrap();
        cache.store("abc", b"artifact", b"{}").unwrap();
        let bytes = fs::read(cache.path("abc")).unwrap();
        assert!(
            bytes.starts_with(b"artifact{}"),
            "the artifact starts the file, its description follows"
        );
        assert_eq!(
            accepts_as(&cache, "abc", &bytes).as_deref(),
            Some(&b"{}"[..])
        );

        for at in [0, 8, 9, bytes.len() - 1, bytes.len() - 44] {
            let mut edited = bytes.clone();
            edited[at] ^= 1;
            assert!(!accepts(&cache, &edited), "a byte at {at} changed");
        }
        assert!(!accepts(&cache, &bytes[..20]));
        assert!(!accepts(&cache, &bytes[1..]));
        assert!(!accepts(&cache, b""));
        // The same file under another entry's name: refused.
        assert!(accepts_as(&cache, "abd", &bytes).is_none());

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
        cache.store("empty", &artifact, b"described").unwrap();
        let cached = cache.load(&engine, "empty").unwrap();
        assert_eq!(cached.description, b"described");
        // A file put in its place is a miss, not loaded.
        fs::write(cache.path("empty"), &artifact).unwrap();
        assert!(cache.load(&engine, "empty").is_none());
    }
}
