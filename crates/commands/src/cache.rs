//! A bounded cache of stream snapshots, least recently used first out, so memory stays bounded however many
//! streams the process has touched.
//!
//! A snapshot is never wrong, only possibly behind: whoever takes one catches up the tail from its version before
//! deciding (`stream::catch_up`). So the cache needs no invalidation; `put` just never replaces a snapshot with an
//! older one. The bound is a count of streams (one per aggregate type), not bytes: states are small except hot
//! inventories, of which there are few.
//!
//! Each entry also remembers when it was last known to be the stream's current state (just read up to the
//! stream's end, or just appended by this process), for reads that may trust a recent state without reading the
//! tail ([`StateCache::get_current_within`]: pricing from the catalog).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::stream::Snapshot;

/// Up to `capacity` snapshots by stream id.
#[derive(Debug)]
pub(crate) struct StateCache<S> {
    capacity: usize,
    entries: HashMap<String, Entry<S>>,
    /// Stream ids by the tick of their last use: the first is the least recently used.
    by_use: BTreeMap<u64, String>,
    tick: u64,
}

#[derive(Debug)]
struct Entry<S> {
    snapshot: Snapshot<S>,
    used: u64,
    /// When `snapshot` was last known to be the stream's current state (`None`: not known).
    current_at: Option<Instant>,
}

impl<S> StateCache<S> {
    pub(crate) fn new(capacity: usize) -> Self {
        StateCache { capacity, entries: HashMap::new(), by_use: BTreeMap::new(), tick: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The snapshot of `stream_id`, marked as just used.
    pub(crate) fn get(&mut self, stream_id: &str) -> Option<Snapshot<S>> {
        let tick = self.next_tick();
        let entry = self.entries.get_mut(stream_id)?;
        self.by_use.remove(&entry.used);
        entry.used = tick;
        self.by_use.insert(tick, stream_id.to_owned());
        Some(entry.snapshot.clone())
    }

    /// The snapshot of `stream_id` if it was known to be the stream's current state within `max_age`.
    pub(crate) fn get_current_within(&mut self, stream_id: &str, max_age: Duration) -> Option<Snapshot<S>> {
        let current_at = self.entries.get(stream_id)?.current_at?;
        if current_at.elapsed() >= max_age {
            return None;
        }
        self.get(stream_id)
    }

    /// Keeps `snapshot` unless the cache holds a newer one, then evicts the least recently used beyond capacity.
    pub(crate) fn put(&mut self, stream_id: &str, snapshot: Snapshot<S>) {
        self.keep(stream_id, snapshot, None);
    }

    /// As [`StateCache::put`], for a snapshot that is the stream's current state right now (just read up to the
    /// stream's end, or just appended).
    pub(crate) fn put_current(&mut self, stream_id: &str, snapshot: Snapshot<S>) {
        self.keep(stream_id, snapshot, Some(Instant::now()));
    }

    fn keep(&mut self, stream_id: &str, snapshot: Snapshot<S>, current_at: Option<Instant>) {
        if self.capacity == 0 {
            return;
        }
        let tick = self.next_tick();
        match self.entries.get_mut(stream_id) {
            Some(entry) => {
                self.by_use.remove(&entry.used);
                entry.used = tick;
                if snapshot.version > entry.snapshot.version {
                    entry.snapshot = snapshot;
                    entry.current_at = current_at;
                } else if snapshot.version == entry.snapshot.version && current_at.is_some() {
                    entry.current_at = current_at;
                }
            }
            None => {
                self.entries.insert(stream_id.to_owned(), Entry { snapshot, used: tick, current_at });
            }
        }
        self.by_use.insert(tick, stream_id.to_owned());
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.by_use.pop_first() else { break };
            self.entries.remove(&oldest);
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn snapshot(value: u32, version: u64) -> Snapshot<u32> {
        Snapshot { state: Arc::new(value), version: Some(version) }
    }

    #[test]
    fn the_least_recently_used_stream_goes_first() {
        let mut cache = StateCache::new(2);
        cache.put("a", snapshot(1, 0));
        cache.put("b", snapshot(2, 0));
        assert!(cache.get("a").is_some());
        cache.put("c", snapshot(3, 0));
        assert_eq!(cache.len(), 2);
        assert!(cache.get("b").is_none());
        assert_eq!(cache.get("a").map(|s| *s.state), Some(1));
        assert_eq!(cache.get("c").map(|s| *s.state), Some(3));
    }

    #[test]
    fn an_older_snapshot_never_replaces_a_newer_one() {
        let mut cache = StateCache::new(4);
        cache.put("a", snapshot(5, 5));
        cache.put("a", snapshot(3, 3));
        assert_eq!(cache.get("a").map(|s| (*s.state, s.version)), Some((5, Some(5))));
        cache.put("a", snapshot(7, 7));
        assert_eq!(cache.get("a").map(|s| (*s.state, s.version)), Some((7, Some(7))));
    }

    #[test]
    fn only_a_snapshot_known_current_within_the_age_is_given_as_current() {
        let mut cache = StateCache::new(4);
        cache.put("a", snapshot(1, 1));
        assert!(cache.get_current_within("a", Duration::from_secs(60)).is_none(), "never known current");
        cache.put_current("a", snapshot(1, 1));
        assert_eq!(cache.get_current_within("a", Duration::from_secs(60)).map(|s| *s.state), Some(1));
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.get_current_within("a", Duration::from_millis(1)).is_none(), "too old");
        // A newer snapshot of unknown currency replaces the state and forgets when the old one was current.
        cache.put_current("a", snapshot(1, 1));
        cache.put("a", snapshot(2, 2));
        assert!(cache.get_current_within("a", Duration::from_secs(60)).is_none());
    }

    #[test]
    fn a_zero_capacity_cache_keeps_nothing() {
        let mut cache = StateCache::new(0);
        cache.put("a", snapshot(1, 0));
        assert!(cache.get("a").is_none());
    }
}
