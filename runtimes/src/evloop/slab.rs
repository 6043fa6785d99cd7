//! A generational slab: values stored in a `Vec`, addressed by a [`Key`] that goes stale when
//! its slot is freed, so a late waker or epoll event can never reach the slot's next tenant.
//!
//! Invariant: a key is valid while its slot holds the value it was issued for; every lookup
//! compares the slot's generation with the key's and misses on a stale key.

/// Index and generation of a slot, packed into a `u64` (the shape of an epoll token).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Key(u64);

impl Key {
    fn new(index: u32, generation: u32) -> Self {
        Key((u64::from(generation) << 32) | u64::from(index))
    }

    fn index(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }

    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The key as a plain integer (epoll token, atomic storage).
    pub(crate) fn to_u64(self) -> u64 {
        self.0
    }

    /// A key from [`Key::to_u64`]; `None` for integers no slab issues (index `u32::MAX`).
    pub(crate) fn from_u64(raw: u64) -> Option<Self> {
        (raw & 0xffff_ffff != 0xffff_ffff).then_some(Key(raw))
    }
}

/// Generation bits a compact key keeps ([`Key::compact`]).
const COMPACT_GENERATION_MASK: u32 = (1 << 24) - 1;

impl Key {
    /// The key in 56 bits (an io_uring direct token): the index and the generation's low 24
    /// bits. [`Slab::get_mut_compact`] finds the value again; a compact key goes stale like
    /// a key, except after exactly a multiple of 2^24 reuses of its slot.
    pub(crate) fn compact(self) -> u64 {
        self.0 & ((u64::from(COMPACT_GENERATION_MASK) << 32) | 0xffff_ffff)
    }
}

/// Integers that are never a slab key: reserved tokens and "no key yet".
pub(crate) const fn reserved_token(n: u32) -> u64 {
    (n as u64) << 32 | 0xffff_ffff
}

enum Entry<T> {
    Occupied { generation: u32, value: T },
    Vacant { generation: u32, next_free: u32 },
}

/// Slots reused through a free list; generations bump on every removal.
pub(crate) struct Slab<T> {
    /// All slots, occupied or vacant.
    entries: Vec<Entry<T>>,
    /// Head of the free list of vacant slots (`u32::MAX` when empty).
    free_head: u32,
    /// Number of occupied slots.
    len: usize,
}

const NO_FREE: u32 = u32::MAX;

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            free_head: NO_FREE,
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// Stores `value` and returns its key.
    pub(crate) fn insert(&mut self, value: T) -> Key {
        self.len += 1;
        if self.free_head != NO_FREE {
            let index = self.free_head;
            let entry = &mut self.entries[index as usize];
            let Entry::Vacant {
                generation,
                next_free,
            } = *entry
            else {
                unreachable!("free list points at an occupied slot");
            };
            self.free_head = next_free;
            *entry = Entry::Occupied { generation, value };
            return Key::new(index, generation);
        }
        let index = u32::try_from(self.entries.len())
            .ok()
            .filter(|i| *i != u32::MAX)
            .expect("slab full");
        self.entries.push(Entry::Occupied {
            generation: 0,
            value,
        });
        Key::new(index, 0)
    }

    /// The value under `key`, if the key is still valid.
    pub(crate) fn get(&self, key: Key) -> Option<&T> {
        match self.entries.get(key.index()) {
            Some(Entry::Occupied { generation, value }) if *generation == key.generation() => {
                Some(value)
            }
            _ => None,
        }
    }

    /// The value under `key`, mutably, if the key is still valid.
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.entries.get_mut(key.index()) {
            Some(Entry::Occupied { generation, value }) if *generation == key.generation() => {
                Some(value)
            }
            _ => None,
        }
    }

    /// Whether `key` is still valid.
    pub(crate) fn contains(&self, key: Key) -> bool {
        self.get(key).is_some()
    }

    /// The value under a compact key ([`Key::compact`]) and its full key, if still valid.
    #[inline]
    pub(crate) fn get_mut_compact(&mut self, compact: u64) -> Option<(Key, &mut T)> {
        let index = compact as u32;
        match self.entries.get_mut(index as usize) {
            Some(Entry::Occupied { generation, value })
                if *generation & COMPACT_GENERATION_MASK == (compact >> 32) as u32 =>
            {
                Some((Key::new(index, *generation), value))
            }
            _ => None,
        }
    }

    /// Removes and returns the value under `key`; its slot's generation moves on.
    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let entry = self.entries.get_mut(key.index())?;
        match entry {
            Entry::Occupied { generation, .. } if *generation == key.generation() => {}
            _ => return None,
        }
        let vacant = Entry::Vacant {
            generation: key.generation().wrapping_add(1),
            next_free: self.free_head,
        };
        let Entry::Occupied { value, .. } = std::mem::replace(entry, vacant) else {
            unreachable!("checked above");
        };
        self.free_head = key.index() as u32;
        self.len -= 1;
        Some(value)
    }

    /// Number of stored values.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Removes every value, returning them (used at shutdown).
    pub(crate) fn take_all(&mut self) -> Vec<T> {
        let entries = std::mem::take(&mut self.entries);
        self.free_head = NO_FREE;
        self.len = 0;
        entries
            .into_iter()
            .filter_map(|e| match e {
                Entry::Occupied { value, .. } => Some(value),
                Entry::Vacant { .. } => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_keys_miss_after_reuse() {
        let mut slab = Slab::default();
        let a = slab.insert("a");
        assert_eq!(slab.remove(a), Some("a"));
        let b = slab.insert("b");
        assert_eq!(a.index(), b.index(), "the slot is reused");
        assert_eq!(slab.get(a), None);
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.get(b), Some(&"b"));
        assert_eq!(slab.len(), 1);
        assert_eq!(Key::from_u64(b.to_u64()), Some(b));
        assert_eq!(Key::from_u64(reserved_token(3)), None);
        assert_eq!(slab.get_mut_compact(a.compact()).map(|(k, _)| k), None);
        assert_eq!(
            slab.get_mut_compact(b.compact()).map(|(k, v)| (k, *v)),
            Some((b, "b"))
        );
    }
}
