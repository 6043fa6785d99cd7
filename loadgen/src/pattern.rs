//! Message contents: every byte is a function of (connection id, sequence number, offset),
//! so an echo can be verified chunk by chunk as it arrives, across short reads, without
//! keeping a copy of what was sent.
//!
//! Layout: bytes 0..4 the connection id (little endian), 4..12 the sequence number, then a
//! pseudo-random pattern whose 8-byte word `w` is `mix(seed(conn, seq) + w)`. Messages
//! shorter than 12 bytes carry a prefix of that layout.

/// Bytes of the header (connection id + sequence number).
const HEADER: usize = 12;

/// SplitMix64's finaliser: a cheap, well-mixed 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn seed(conn: u32, seq: u64) -> u64 {
    mix((u64::from(conn) << 40) ^ seq ^ 0x9e37_79b9_7f4a_7c15)
}

/// The 12 header bytes of message (`conn`, `seq`).
fn header(conn: u32, seq: u64) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..4].copy_from_slice(&conn.to_le_bytes());
    h[4..].copy_from_slice(&seq.to_le_bytes());
    h
}

/// The bytes of message (`conn`, `seq`) at `offset .. offset + out.len()`, written to `out`.
pub fn fill(conn: u32, seq: u64, offset: usize, out: &mut [u8]) {
    let len = out.len();
    let s = seed(conn, seq);
    let (head, words) = leading(conn, seq, offset, len);
    out[..head.len()].copy_from_slice(&head[..]);
    let mut w = words;
    // Whole words: one 8-byte store each (no call per piece).
    let mut chunks = out[head.len()..].chunks_exact_mut(8);
    for c in &mut chunks {
        c.copy_from_slice(&mix(s.wrapping_add(w)).to_le_bytes());
        w += 1;
    }
    let rest = chunks.into_remainder();
    let n = rest.len();
    rest.copy_from_slice(&mix(s.wrapping_add(w)).to_le_bytes()[..n]);
}

/// Whether `got` equals the bytes of message (`conn`, `seq`) at `offset`. Every byte is
/// compared.
pub fn verify(conn: u32, seq: u64, offset: usize, got: &[u8]) -> bool {
    let s = seed(conn, seq);
    let (head, words) = leading(conn, seq, offset, got.len());
    let (first, body) = got.split_at(head.len());
    let mut diff = differ(first, &head[..]);
    let mut w = words;
    // Whole words: one 8-byte compare each, the differences or-ed (no call, no branch
    // per word).
    let mut chunks = body.chunks_exact(8);
    for c in &mut chunks {
        let c: [u8; 8] = c.try_into().expect("chunks_exact(8)");
        diff |= u64::from_le_bytes(c) ^ mix(s.wrapping_add(w));
        w += 1;
    }
    let rest = chunks.remainder();
    diff |= differ(rest, &mix(s.wrapping_add(w)).to_le_bytes()[..rest.len()]);
    diff == 0
}

/// The bytes at `offset .. offset + len` up to the first 8-byte word boundary at or after
/// the header (byte 16; fewer when `len` ends first, none when `offset` is such a
/// boundary), and the index of the word that starts right after them.
fn leading(conn: u32, seq: u64, offset: usize, len: usize) -> (Leading, u64) {
    /// The first word boundary at or after the header.
    const FIRST_WORD: usize = HEADER.next_multiple_of(8);
    let end = offset + len;
    let stop = if offset < FIRST_WORD {
        FIRST_WORD
    } else {
        offset.next_multiple_of(8)
    }
    .min(end);
    let mut out = Leading {
        bytes: [0; 16],
        len: stop - offset,
    };
    if offset < FIRST_WORD {
        // Bytes 0..16: the header, then the rest of the word it ends in.
        let mut first = [0u8; FIRST_WORD];
        first[..HEADER].copy_from_slice(&header(conn, seq));
        let word = mix(seed(conn, seq).wrapping_add((HEADER / 8) as u64)).to_le_bytes();
        first[HEADER..].copy_from_slice(&word[HEADER % 8..]);
        out.bytes[..out.len].copy_from_slice(&first[offset..stop]);
    } else if out.len > 0 {
        let word = mix(seed(conn, seq).wrapping_add((offset / 8) as u64)).to_le_bytes();
        out.bytes[..out.len].copy_from_slice(&word[offset % 8..offset % 8 + out.len]);
    }
    (out, (stop / 8) as u64)
}

/// The leading bytes of a range (see [`leading`]).
struct Leading {
    bytes: [u8; 16],
    len: usize,
}

impl std::ops::Deref for Leading {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// Non-zero when `a` and `b` (of equal length, at most a few words) differ.
#[inline]
fn differ(a: &[u8], b: &[u8]) -> u64 {
    debug_assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .fold(0, |acc, (x, y)| acc | u64::from(x ^ y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_match_the_whole() {
        let mut whole = vec![0u8; 1000];
        fill(7, 42, 0, &mut whole);
        assert_eq!(&whole[..4], &7u32.to_le_bytes());
        assert_eq!(&whole[4..12], &42u64.to_le_bytes());
        for split in [0, 1, 5, 12, 13, 500, 999] {
            assert!(verify(7, 42, 0, &whole[..split]));
            assert!(verify(7, 42, split, &whole[split..]));
        }
        let mut part = vec![0u8; 37];
        fill(7, 42, 301, &mut part);
        assert_eq!(&part[..], &whole[301..338]);
        // Byte by byte, the layout the module documents.
        let s = seed(7, 42);
        for (pos, b) in whole.iter().enumerate().skip(HEADER) {
            assert_eq!(
                *b,
                mix(s.wrapping_add((pos / 8) as u64)).to_le_bytes()[pos % 8]
            );
        }
        for start in 0..20 {
            for len in 0..20 {
                let mut p = vec![0u8; len];
                fill(7, 42, start, &mut p);
                assert_eq!(&p[..], &whole[start..start + len], "{start}+{len}");
            }
        }
    }

    #[test]
    fn any_flipped_byte_is_caught() {
        let mut msg = vec![0u8; 300];
        fill(3, 9, 0, &mut msg);
        for i in 0..msg.len() {
            let mut bad = msg.clone();
            bad[i] ^= 0x01;
            assert!(!verify(3, 9, 0, &bad), "flip at {i} not caught");
        }
        // Every window of the first 80 bytes verifies, and fails with any of its bytes
        // flipped (the header, the word before the first whole one, whole words, the rest).
        for start in 0..40 {
            for len in 0..40 {
                let window = &msg[start..start + len];
                assert!(verify(3, 9, start, window), "{start}+{len}");
                for i in 0..len {
                    let mut bad = window.to_vec();
                    bad[i] ^= 0x80;
                    assert!(!verify(3, 9, start, &bad), "{start}+{len}: flip at {i}");
                }
            }
        }
        // Another connection's or another sequence number's message differs.
        assert!(!verify(4, 9, 0, &msg));
        assert!(!verify(3, 10, 0, &msg));
    }
}
