//! A bounded cache of stream snapshots, least recently used first out, so memory stays bounded however many
//! streams the process has touched.
//!
//! A snapshot is never wrong, only possibly behind: whoever takes one catches up the tail from its version before
//! deciding (`stream::catch_up`). So the cache needs no invalidation; `put` just never replaces a snapshot with an
//! older one. The bound is a count of streams (one per aggregate type), not bytes: states are small except hot
//! inventories, of which there are few.

use std::collections::{BTreeMap, HashMap};

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

    /// Keeps `snapshot` unless the cache holds a newer one, then evicts the least recently used beyond capacity.
    pub(crate) fn put(&mut self, stream_id: &str, snapshot: Snapshot<S>) {
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
                }
            }
            None => {
                self.entries.insert(stream_id.to_owned(), Entry { snapshot, used: tick });
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
    fn a_zero_capacity_cache_keeps_nothing() {
        let mut cache = StateCache::new(0);
        cache.put("a", snapshot(1, 0));
        assert!(cache.get("a").is_none());
    }
}
