//! The on-disk cache of compiled modules: one file per key, written
//! atomically, bounded in size with least-recently-used eviction
//! (`docs/vm.md`, "Compiled code on disk").

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::format::{self, Entry};
use super::{Artifact, CacheKey};
use crate::{Engine, Module};

/// The extension of entry files; with the 64 hex digits of the key's hash
/// it is the only name the cache reads or deletes.
pub(crate) const EXTENSION: &str = ".dca";
/// Prefix of files being written.
const TEMP_PREFIX: &str = ".tmp-";
/// A temporary file this old was left by a writer that died.
const STALE_TEMP: Duration = Duration::from_secs(3_600);

/// What a lookup found.
#[derive(Debug, Clone)]
pub enum Cached {
    /// The module, loaded without compiling.
    Module(Module),
    /// The code was refused before under this key, with this error.
    Rejected {
        /// The error's kind.
        kind: String,
        /// Its message.
        reason: String,
    },
}

/// Counters of a cache's activity since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found a usable entry.
    pub hits: u64,
    /// Lookups that found none (or a damaged one).
    pub misses: u64,
    /// Entries found damaged, foreign, of another version or key; each
    /// was deleted and counted as a miss.
    pub damaged: u64,
    /// Entries written.
    pub writes: u64,
    /// Reads or writes the file system refused (the cache then works as
    /// compile-only for that entry).
    pub io_failures: u64,
    /// Entries deleted to stay within the size bound.
    pub evictions: u64,
    /// Entries on disk now.
    pub entries: u64,
    /// Their total size in bytes.
    pub bytes: u64,
}

/// Compiled modules in a directory, keyed by [`CacheKey`]. Every failure is
/// a miss: the caller compiles, and the call never fails because of the
/// cache. Shared between threads by reference.
pub struct CodeCache {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
    warned: AtomicBool,
    temp_counter: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    damaged: AtomicU64,
    writes: AtomicU64,
    io_failures: AtomicU64,
    evictions: AtomicU64,
}

impl std::fmt::Debug for CodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeCache")
            .field("dir", &self.dir)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// Sizes and recency of the entries on disk.
#[derive(Default)]
struct Index {
    entries: HashMap<String, Meta>,
    total: u64,
    clock: u64,
}

#[derive(Clone, Copy)]
struct Meta {
    size: u64,
    used: u64,
}

impl Index {
    fn touch(&mut self, name: &str, size: u64) {
        self.clock += 1;
        let meta = Meta {
            size,
            used: self.clock,
        };
        if let Some(old) = self.entries.insert(name.to_owned(), meta) {
            self.total -= old.size;
        }
        self.total += size;
    }

    fn forget(&mut self, name: &str) {
        if let Some(old) = self.entries.remove(name) {
            self.total -= old.size;
        }
    }
}

/// Whether `name` is an entry file: 64 lowercase hex digits and the
/// extension. Nothing else in the directory is touched.
fn is_entry_name(name: &str) -> bool {
    name.strip_suffix(EXTENSION).is_some_and(|stem| {
        stem.len() == 64 && stem.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

impl CodeCache {
    /// Opens the cache in `dir` (created if missing) holding at most
    /// `max_bytes` of entries; 0 turns it off. Never fails: an unusable
    /// directory is reported once on stderr and the cache misses.
    pub fn open(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
        let cache = Self {
            dir: dir.into(),
            max_bytes,
            index: Mutex::default(),
            warned: AtomicBool::new(false),
            temp_counter: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            damaged: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            io_failures: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        };
        if max_bytes == 0 {
            return cache;
        }
        if let Err(e) = cache.scan() {
            cache.io_failed("cannot open the directory", &e);
        }
        cache.evict(None);
        cache
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The size bound in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Counters since the cache was opened.
    pub fn stats(&self) -> CacheStats {
        let index = self.lock();
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            hits: load(&self.hits),
            misses: load(&self.misses),
            damaged: load(&self.damaged),
            writes: load(&self.writes),
            io_failures: load(&self.io_failures),
            evictions: load(&self.evictions),
            entries: index.entries.len() as u64,
            bytes: index.total,
        }
    }

    /// The entry for `key`, if there is a usable one. A damaged entry is
    /// deleted and is a miss.
    pub fn get(&self, engine: &Engine, key: &CacheKey) -> Option<Cached> {
        if self.max_bytes == 0 {
            return None;
        }
        let found = self.read(engine, key);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores `artifact` under `key`. Failures are counted and warned
    /// about, never returned: the module is usable either way.
    pub fn put_module(&self, key: &CacheKey, artifact: &Artifact) {
        self.put(key, &Entry::Module(Box::new(artifact.inner.clone())));
    }

    /// Remembers that the code under `key` is refused with this error, so
    /// it is not compiled again. Only for errors that compiling again
    /// would give again.
    pub fn put_rejection(&self, key: &CacheKey, kind: &str, reason: &str) {
        self.put(
            key,
            &Entry::Rejection {
                kind: kind.to_owned(),
                reason: reason.to_owned(),
            },
        );
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        // The index is only a size estimate; a panic mid-update leaves it
        // usable.
        match self.index.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn io_failed(&self, what: &str, e: &io::Error) {
        self.io_failures.fetch_add(1, Ordering::Relaxed);
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!(
                "warning: code cache {}: {what}: {e}; contracts are compiled without it",
                self.dir.display()
            );
        }
    }

    /// Lists the entries (oldest modification first, so recency survives a
    /// restart) and deletes temporary files writers left behind.
    fn scan(&self) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let mut found = Vec::new();
        for item in fs::read_dir(&self.dir)? {
            let item = item?;
            let name = item.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(meta) = item.metadata() else { continue };
            let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if name.starts_with(TEMP_PREFIX) {
                let stale = modified.elapsed().is_ok_and(|age| age > STALE_TEMP);
                if stale {
                    let _ = fs::remove_file(item.path());
                }
            } else if is_entry_name(name) && meta.is_file() {
                found.push((modified, name.to_owned(), meta.len()));
            }
        }
        found.sort();
        let mut index = self.lock();
        for (_, name, size) in found {
            index.touch(&name, size);
        }
        Ok(())
    }

    fn read(&self, engine: &Engine, key: &CacheKey) -> Option<Cached> {
        let path = self.dir.join(key.file_name());
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.lock().forget(key.file_name());
                return None;
            }
            Err(e) => {
                self.io_failed("cannot read an entry", &e);
                return None;
            }
        };
        let entry = format::decode(&bytes, key.bytes());
        let cached = match entry {
            Ok(Entry::Module(artifact)) => Module::from_artifact(engine, &artifact)
                .ok()
                .map(Cached::Module),
            Ok(Entry::Rejection { kind, reason }) => Some(Cached::Rejected { kind, reason }),
            Err(_) => None,
        };
        if cached.is_none() {
            self.damaged.fetch_add(1, Ordering::Relaxed);
            self.lock().forget(key.file_name());
            let _ = fs::remove_file(&path);
            return None;
        }
        self.lock().touch(key.file_name(), bytes.len() as u64);
        // Recency for the next process; a read-only directory only loses
        // that.
        if let Ok(file) = File::options().write(true).open(&path) {
            let _ = file.set_modified(SystemTime::now());
        }
        cached
    }

    fn put(&self, key: &CacheKey, entry: &Entry) {
        if self.max_bytes == 0 {
            return;
        }
        // A module the format cannot express is simply not stored.
        let Ok(bytes) = format::encode(key.bytes(), entry) else {
            return;
        };
        if bytes.len() as u64 > self.max_bytes {
            return;
        }
        match self.write_atomic(key.file_name(), &bytes) {
            Ok(()) => {
                self.writes.fetch_add(1, Ordering::Relaxed);
                self.lock().touch(key.file_name(), bytes.len() as u64);
                self.evict(Some(key.file_name()));
            }
            Err(e) => self.io_failed("cannot write an entry", &e),
        }
    }

    /// Temporary file, `fsync`, rename over the final name, `fsync` of the
    /// directory: a reader or a crash sees the old entry, the new one, or
    /// none, never part of one.
    fn write_atomic(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let temp = self.dir.join(format!(
            "{TEMP_PREFIX}{name}-{}-{}",
            std::process::id(),
            self.temp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = File::create_new(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&temp, self.dir.join(name))?;
            File::open(&self.dir)?.sync_all()
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written
    }

    /// Deletes least recently used entries until the total fits the bound,
    /// sparing `keep` (the entry just written, which fits on its own).
    fn evict(&self, keep: Option<&str>) {
        let mut index = self.lock();
        while index.total > self.max_bytes {
            let victim = index
                .entries
                .iter()
                .filter(|(name, _)| Some(name.as_str()) != keep)
                .min_by_key(|(name, meta)| (meta.used, name.as_str()))
                .map(|(name, _)| name.clone());
            let Some(victim) = victim else { break };
            index.forget(&victim);
            match fs::remove_file(self.dir.join(&victim)) {
                Ok(()) => {
                    self.evictions.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    drop(index);
                    self.io_failed("cannot delete an entry", &e);
                    index = self.lock();
                }
            }
        }
    }
}
