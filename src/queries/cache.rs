//! The saved-query answer cache: an LRU of answers keyed by query version,
//! bound parameters, format and data version, bounded in bytes.
//!
//! Invalidation needs no hook: the data version is part of the key and changes
//! with every committed write, so an answer computed before a write can never be
//! served after it (old entries age out of the LRU).

use bytes::Bytes;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::Mutex;

/// What identifies an answer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub query_version: String,
    pub bindings: String,
    pub media_type: &'static str,
    pub data_version: String,
}

impl CacheKey {
    /// The answer's entity tag: a digest of everything the answer depends on.
    /// The parts are fed to the digest one after the other, `|` between them
    /// (the digest of the joined text, which is never built), and the tag is
    /// the first 32 hex digits, quoted.
    pub fn etag(&self) -> String {
        use sha2::Digest;
        let mut digest = sha2::Sha256::new();
        let parts = [self.query_version.as_str(), &self.bindings, self.media_type, &self.data_version];
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                digest.update(b"|");
            }
            digest.update(part.as_bytes());
        }
        let mut tag = [b'"'; 34];
        // 16 bytes make 32 hex digits, which is the slot's exact length.
        let _ = hex::encode_to_slice(&digest.finalize()[..16], &mut tag[1..33]);
        tag.iter().map(|&b| char::from(b)).collect()
    }
}

/// Whether an `If-None-Match` header value matches `etag` (or is `*`).
pub fn matches_if_none_match(header: Option<&str>, etag: &str) -> bool {
    header.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// A cached answer.
#[derive(Debug, Clone)]
pub struct CachedAnswer {
    pub body: Bytes,
    pub truncated: bool,
}

/// Answers no larger than `max_entry` bytes, `budget` bytes in all.
pub struct AnswerCache {
    inner: Mutex<Inner>,
    budget: usize,
    max_entry: usize,
}

struct Inner {
    lru: LruCache<CacheKey, CachedAnswer>,
    bytes: usize,
}

impl AnswerCache {
    pub fn new(budget: usize, max_entry: usize) -> Self {
        AnswerCache {
            inner: Mutex::new(Inner { lru: LruCache::new(NonZeroUsize::new(4096).expect("non-zero")), bytes: 0 }),
            budget,
            max_entry,
        }
    }

    pub fn get(&self, key: &CacheKey) -> Option<CachedAnswer> {
        self.inner.lock().expect("cache lock").lru.get(key).cloned()
    }

    pub fn put(&self, key: CacheKey, answer: CachedAnswer) {
        let size = answer.body.len();
        if size > self.max_entry {
            return;
        }
        let mut inner = self.inner.lock().expect("cache lock");
        if let Some((_, old)) = inner.lru.push(key, answer) {
            inner.bytes -= old.body.len();
        }
        inner.bytes += size;
        while inner.bytes > self.budget {
            match inner.lru.pop_lru() {
                Some((_, old)) => inner.bytes -= old.body.len(),
                None => break,
            }
        }
    }

    /// The largest answer kept, in bytes.
    pub fn max_entry(&self) -> usize {
        self.max_entry
    }

    /// Entries and bytes held (for tests and metrics).
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.inner.lock().expect("cache lock");
        (inner.lru.len(), inner.bytes)
    }
}

impl Default for AnswerCache {
    fn default() -> Self {
        AnswerCache::new(64 * 1024 * 1024, 8 * 1024 * 1024)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: &str) -> CacheKey {
        CacheKey { query_version: n.into(), bindings: String::new(), media_type: "text/csv", data_version: "1".into() }
    }

    #[test]
    fn stays_within_its_byte_budget() {
        let cache = AnswerCache::new(100, 60);
        cache.put(key("a"), CachedAnswer { body: Bytes::from(vec![0; 50]), truncated: false });
        cache.put(key("b"), CachedAnswer { body: Bytes::from(vec![0; 50]), truncated: false });
        assert_eq!(cache.usage(), (2, 100));
        cache.put(key("c"), CachedAnswer { body: Bytes::from(vec![0; 10]), truncated: false });
        assert!(cache.get(&key("a")).is_none(), "the least recently used entry went");
        cache.put(key("big"), CachedAnswer { body: Bytes::from(vec![0; 61]), truncated: false });
        assert!(cache.get(&key("big")).is_none(), "too large to cache");
        assert!(cache.usage().1 <= 100);
    }

    #[test]
    fn the_etag_is_the_digest_of_the_joined_parts_and_tells_them_apart() {
        let k = CacheKey {
            query_version: "sparql ab".into(),
            bindings: "http://h/sparql".into(),
            media_type: "text/csv",
            data_version: "7".into(),
        };
        let joined = crate::sources::content_hash(b"sparql ab|http://h/sparql|text/csv|7");
        assert_eq!(k.etag(), format!("\"{}\"", &joined[..32]), "the tags clients hold stay valid");
        let other = CacheKey { data_version: "8".into(), ..k.clone() };
        assert_ne!(k.etag(), other.etag());
    }
}
