//! The on-disk cache of compiled components, keyed by the component's content hash.
//!
//! Loading a compiled artifact runs native code that was produced earlier, so the cache only
//! trusts artifacts it can prove this build of the host wrote: each file carries an HMAC over
//! its contents, keyed by a secret compiled into this build and by the engine's configuration.
//! Any other file (from another build, truncated, edited) is a miss and is replaced.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8; 8] = b"CSHOSTC1";
const TAG_LEN: usize = 32;

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
        let bytes = fs::read(self.path(hash)).ok()?;
        let artifact = self.verify(&bytes)?;
        // SAFETY: the artifact was written by `store` in this build of the host (its HMAC, keyed
        // by this build's secret, matches), from `Engine::precompile_component` on an engine of
        // the same configuration.
        let component = unsafe { Component::deserialize(engine, artifact) };
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

    /// The artifact inside a cache file, if the file's tag proves this build wrote it.
    fn verify<'a>(&self, bytes: &'a [u8]) -> Option<&'a [u8]> {
        let rest = bytes.strip_prefix(MAGIC)?;
        if rest.len() < TAG_LEN {
            return None;
        }
        let (tag, artifact) = rest.split_at(TAG_LEN);
        let mut mac = self.mac();
        mac.update(artifact);
        mac.verify_slice(tag).ok()?;
        Some(artifact)
    }

    /// Writes a compiled artifact. The file appears whole or not at all.
    pub(crate) fn store(&self, hash: &str, artifact: &[u8]) -> io::Result<()> {
        let mut mac = self.mac();
        mac.update(artifact);
        let tag = mac.finalize().into_bytes();
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
        file.write_all(MAGIC)?;
        file.write_all(&tag)?;
        file.write_all(artifact)?;
        file.persist(self.path(hash)).map_err(|e| e.error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_artifacts_it_did_not_sign() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = CompileCache::open(dir.path(), &engine).unwrap();
        cache.store("abc", b"artifact").unwrap();
        let bytes = fs::read(cache.path("abc")).unwrap();
        assert_eq!(cache.verify(&bytes), Some(&b"artifact"[..]));

        let mut edited = bytes.clone();
        *edited.last_mut().unwrap() ^= 1;
        assert_eq!(cache.verify(&edited), None);
        assert_eq!(cache.verify(&bytes[..20]), None);

        let mut other_build = CompileCache::open(dir.path(), &engine).unwrap();
        other_build.key[0] ^= 1;
        assert_eq!(other_build.verify(&bytes), None);
    }
}
