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

/// The bytes of message (`conn`, `seq`) at `offset .. offset + out.len()`, written to `out`.
pub fn fill(conn: u32, seq: u64, offset: usize, out: &mut [u8]) {
    let s = seed(conn, seq);
    let mut header = [0u8; HEADER];
    header[..4].copy_from_slice(&conn.to_le_bytes());
    header[4..].copy_from_slice(&seq.to_le_bytes());
    let mut word_index = usize::MAX;
    let mut word = [0u8; 8];
    for (i, b) in out.iter_mut().enumerate() {
        let pos = offset + i;
        if pos < HEADER {
            *b = header[pos];
            continue;
        }
        if pos / 8 != word_index {
            word_index = pos / 8;
            word = mix(s.wrapping_add(word_index as u64)).to_le_bytes();
        }
        *b = word[pos % 8];
    }
}

/// Whether `got` equals the bytes of message (`conn`, `seq`) at `offset`. Every byte is
/// compared.
pub fn verify(conn: u32, seq: u64, offset: usize, got: &[u8]) -> bool {
    let mut expected = [0u8; 256];
    let mut done = 0;
    while done < got.len() {
        let n = (got.len() - done).min(expected.len());
        fill(conn, seq, offset + done, &mut expected[..n]);
        if expected[..n] != got[done..done + n] {
            return false;
        }
        done += n;
    }
    true
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
