//! Large keys, each kept once, found by their hash: a table of 4-byte indexes
//! into the keys, not a map holding every key again beside its value.

use std::hash::{BuildHasher, Hash};

/// Distinct keys in the order first added, each with a value.
pub(crate) struct KeyIndex<K> {
    /// Each key, in the order added.
    keys: Vec<K>,
    /// Each key's value.
    values: Vec<u32>,
    /// Indexes into `keys`, by the key's hash.
    table: hashbrown::HashTable<u32>,
}

impl<K> Default for KeyIndex<K> {
    fn default() -> Self {
        KeyIndex {
            keys: Vec::new(),
            values: Vec::new(),
            table: hashbrown::HashTable::new(),
        }
    }
}

/// The hash every index of the analysis finds its keys by.
pub(crate) fn hash_of<K: Hash + ?Sized>(key: &K) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(key)
}

impl<K: Hash + Eq> KeyIndex<K> {
    /// The value of `key`, if it was added.
    pub(crate) fn get(&self, key: &K) -> Option<u32> {
        let keys = &self.keys;
        let at = self
            .table
            .find(hash_of(key), |&i| keys[i as usize] == *key)?;
        Some(self.values[*at as usize])
    }

    /// Add `key`, which is not there yet, with `value`.
    pub(crate) fn insert_new(&mut self, key: K, value: u32) {
        let keys = &self.keys;
        let i = keys.len() as u32;
        self.table
            .insert_unique(hash_of(&key), i, |&j| hash_of(&keys[j as usize]));
        self.keys.push(key);
        self.values.push(value);
    }

    /// The value of `key`: found, or `value()` added with it.
    pub(crate) fn get_or_insert_with(&mut self, key: K, value: impl FnOnce() -> u32) -> u32 {
        match self.get(&key) {
            Some(v) => v,
            None => {
                let v = value();
                self.insert_new(key, v);
                v
            }
        }
    }

    /// The keys, in the order added.
    pub(crate) fn keys(&self) -> &[K] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys come back with their values, in the order added, however many grow
    /// the table.
    #[test]
    fn keys_keep_their_values_and_order() {
        let mut ix: KeyIndex<(u64, &str)> = KeyIndex::default();
        for i in 0..10_000u64 {
            ix.insert_new((i * 7919 % 10_007, "k"), i as u32);
        }
        assert_eq!(ix.get(&(7919, "k")), Some(1));
        assert_eq!(ix.get(&(7919, "x")), None);
        assert_eq!(ix.get_or_insert_with((0, "k"), || 99), 0);
        assert_eq!(ix.get_or_insert_with((5, "new"), || 99), 99);
        assert_eq!(ix.keys().len(), 10_001);
        assert_eq!(ix.keys()[2], (2 * 7919 % 10_007, "k"));
    }
}
