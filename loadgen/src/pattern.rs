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

/// Calls `chunk(index, bytes)` for consecutive pieces of the message's bytes at `offset ..
/// offset + len` (`index` counts from 0 at `offset`): the header's, then whole or partial
/// 8-byte pattern words, so a message is made or checked a word at a time.
#[inline]
fn walk(
    conn: u32,
    seq: u64,
    offset: usize,
    len: usize,
    mut chunk: impl FnMut(usize, &[u8]) -> bool,
) -> bool {
    let s = seed(conn, seq);
    let (mut pos, end) = (offset, offset + len);
    if pos < HEADER {
        let n = (HEADER - pos).min(len);
        if !chunk(0, &header(conn, seq)[pos..pos + n]) {
            return false;
        }
        pos += n;
    }
    while pos < end {
        let word = mix(s.wrapping_add((pos / 8) as u64)).to_le_bytes();
        let start = pos % 8;
        let n = (8 - start).min(end - pos);
        if !chunk(pos - offset, &word[start..start + n]) {
            return false;
        }
        pos += n;
    }
    true
}

/// The bytes of message (`conn`, `seq`) at `offset .. offset + out.len()`, written to `out`.
pub fn fill(conn: u32, seq: u64, offset: usize, out: &mut [u8]) {
    let len = out.len();
    walk(conn, seq, offset, len, |i, bytes| {
        out[i..i + bytes.len()].copy_from_slice(bytes);
        true
    });
}

/// Whether `got` equals the bytes of message (`conn`, `seq`) at `offset`. Every byte is
/// compared.
pub fn verify(conn: u32, seq: u64, offset: usize, got: &[u8]) -> bool {
    walk(conn, seq, offset, got.len(), |i, bytes| {
        got[i..i + bytes.len()] == *bytes
    })
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
        // Another connection's or another sequence number's message differs.
        assert!(!verify(4, 9, 0, &msg));
        assert!(!verify(3, 10, 0, &msg));
    }
}
