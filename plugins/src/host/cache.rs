//! The two caches of prepared plugins: in memory, bounded by bytes and
//! evicted least recently used first; and on disk (`*.cwasm`, so a restart
//! does not recompile), bounded by bytes and evicted oldest used first, the
//! file's modification time being its last use.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::Loaded;

/// Temporary files older than this are left over from a crashed writer. A
/// younger one may be another process writing right now.
const STALE_TMP: Duration = Duration::from_secs(600);

/// Prepared plugins by content hash, bounded by the approximate bytes their
/// compiled code holds (and by count, for many tiny entries).
pub struct MemoryCache {
    entries: lru::LruCache<String, (Loaded, usize)>,
    bytes: usize,
    max_bytes: usize,
}

impl MemoryCache {
    pub fn new(max_bytes: usize, max_entries: usize) -> MemoryCache {
        let cap = std::num::NonZeroUsize::new(max_entries.max(1)).expect("at least one");
        MemoryCache { entries: lru::LruCache::new(cap), bytes: 0, max_bytes }
    }

    pub fn get(&mut self, hash: &str) -> Option<Loaded> {
        self.entries.get(hash).map(|(l, _)| l.clone())
    }

    /// Keeps `loaded`, then evicts the least recently used entries until the
    /// total fits, always keeping the newest (it is in use right now).
    pub fn put(&mut self, loaded: Loaded, size: usize) {
        self.bytes += size;
        if let Some((_, (_, old))) = self.entries.push(loaded.hash.clone(), (loaded, size)) {
            // The entry replaced or pushed out by the count bound.
            self.bytes -= old;
        }
        while self.bytes > self.max_bytes && self.entries.len() > 1 {
            let Some((_, (_, old))) = self.entries.pop_lru() else { break };
            self.bytes -= old;
        }
    }
}

/// Where a prepared component lives on disk.
pub fn entry_path(dir: &Path, hash: &str, engine_compat: &str) -> PathBuf {
    dir.join(format!("{hash}-{engine_compat}.cwasm"))
}

/// Marks an entry as just used, so eviction keeps it longest.
pub fn touch(path: &Path) {
    if let Err(e) = File::options().write(true).open(path).and_then(|f| f.set_modified(SystemTime::now())) {
        tracing::debug!(path = %path.display(), error = %e, "could not mark a plugin cache entry as used");
    }
}

/// Writes an entry (through a temporary file, so a reader never sees half of
/// one), then evicts the oldest used entries past `max_bytes`.
pub fn write(path: &Path, bytes: &[u8], max_bytes: u64) {
    let unique = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let tmp = path.with_extension(format!("cwasm.{}.{unique}.tmp", std::process::id()));
    if let Err(e) = fs::write(&tmp, bytes).and_then(|_| fs::rename(&tmp, path)) {
        tracing::warn!(path = %path.display(), error = %e, "could not write the plugin cache");
        let _ = fs::remove_file(&tmp);
        return;
    }
    if let Some(dir) = path.parent() {
        evict(dir, max_bytes, path);
    }
}

/// Removes stale temporary files, then the oldest used entries until the
/// entries fit in `max_bytes`; `keep` (the entry just written) stays.
pub fn evict(dir: &Path, max_bytes: u64, keep: &Path) {
    let Ok(listing) = fs::read_dir(dir) else { return };
    let now = SystemTime::now();
    let mut entries = Vec::new();
    let mut total = 0u64;
    for entry in listing.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        match path.extension().and_then(|e| e.to_str()) {
            Some("tmp") if now.duration_since(modified).is_ok_and(|age| age > STALE_TMP) => {
                let _ = fs::remove_file(&path);
            }
            Some("cwasm") => {
                total += meta.len();
                if path != keep {
                    entries.push((modified, meta.len(), path));
                }
            }
            _ => {}
        }
    }
    entries.sort();
    for (_, len, path) in entries {
        if total <= max_bytes {
            break;
        }
        match fs::remove_file(&path) {
            Ok(()) => total -= len,
            // Another process sharing the folder evicted it first.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => total -= len,
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not evict a plugin cache entry"),
        }
    }
}
