//! Kafka's zigzag variable-length integers (`varint` = i32, `varlong` = i64).
//!
//! Same encoding as protobuf's `sint32`/`sint64`: zigzag to map small magnitudes to small unsigned
//! numbers, then 7 bits per byte, least significant group first, high bit = "more bytes follow".
//! Decoding is strict: at most 5 bytes for a varint and 10 for a varlong, and the last byte may not
//! carry bits that do not fit the type (Kafka's Java encoder never writes such bytes).

/// Longest encoding of an `i32` varint.
pub const MAX_VARINT_LEN: usize = 5;
/// Longest encoding of an `i64` varlong.
pub const MAX_VARLONG_LEN: usize = 10;

/// Why a varint could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VarintError {
    #[error("varint is truncated")]
    Truncated,
    #[error("varint does not fit in {bits} bits")]
    Overflow { bits: u32 },
}

/// Decodes an unsigned LEB128 value of at most `bits` bits; returns it and the bytes consumed.
fn decode_unsigned(input: &[u8], bits: u32) -> Result<(u64, usize), VarintError> {
    let max_len = bits.div_ceil(7) as usize;
    let mut value: u64 = 0;
    for (i, &byte) in input.iter().take(max_len).enumerate() {
        let shift = 7 * i as u32;
        let payload = u64::from(byte & 0x7f);
        if i + 1 == max_len {
            // Last permitted byte: no continuation bit, and no bits beyond `bits`.
            let room = bits - shift;
            if byte & 0x80 != 0 || payload >> room != 0 {
                return Err(VarintError::Overflow { bits });
            }
        }
        value |= payload << shift;
        if byte & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(VarintError::Truncated)
}

/// Decodes a zigzag `i32` varint from the start of `input`; returns the value and bytes consumed.
pub fn decode_varint(input: &[u8]) -> Result<(i32, usize), VarintError> {
    let (raw, used) = decode_unsigned(input, 32)?;
    let raw = raw as u32;
    Ok((((raw >> 1) as i32) ^ -((raw & 1) as i32), used))
}

/// Decodes a zigzag `i64` varlong from the start of `input`; returns the value and bytes consumed.
pub fn decode_varlong(input: &[u8]) -> Result<(i64, usize), VarintError> {
    let (raw, used) = decode_unsigned(input, 64)?;
    Ok((((raw >> 1) as i64) ^ -((raw & 1) as i64), used))
}

fn encode_unsigned(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends the zigzag varint encoding of `value` to `out`.
pub fn encode_varint(value: i32, out: &mut Vec<u8>) {
    encode_unsigned(u64::from(((value << 1) ^ (value >> 31)) as u32), out);
}

/// Appends the zigzag varlong encoding of `value` to `out`.
pub fn encode_varlong(value: i64, out: &mut Vec<u8>) {
    encode_unsigned(((value << 1) ^ (value >> 63)) as u64, out);
}

/// Number of bytes [`encode_varint`] writes for `value`.
pub fn varint_len(value: i32) -> usize {
    let raw = ((value << 1) ^ (value >> 31)) as u32;
    (32 - raw.leading_zeros()).max(1).div_ceil(7) as usize
}

/// Number of bytes [`encode_varlong`] writes for `value`.
pub fn varlong_len(value: i64) -> usize {
    let raw = ((value << 1) ^ (value >> 63)) as u64;
    (64 - raw.leading_zeros()).max(1).div_ceil(7) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        // Values from Kafka's ByteUtilsTest.
        let cases: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for &(value, bytes) in cases {
            let mut out = Vec::new();
            encode_varint(value, &mut out);
            assert_eq!(out, bytes, "encoding {value}");
            assert_eq!(decode_varint(bytes), Ok((value, bytes.len())));
            assert_eq!(varint_len(value), bytes.len());
        }
    }

    #[test]
    fn truncated_and_overflowing_inputs_are_errors() {
        assert_eq!(decode_varint(&[]), Err(VarintError::Truncated));
        assert_eq!(decode_varint(&[0x80, 0x80]), Err(VarintError::Truncated));
        assert_eq!(
            decode_varint(&[0xff, 0xff, 0xff, 0xff, 0x1f]),
            Err(VarintError::Overflow { bits: 32 })
        );
        assert_eq!(
            decode_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
            Err(VarintError::Overflow { bits: 32 })
        );
        let mut ten = vec![0xffu8; 9];
        ten.push(0x01);
        assert_eq!(decode_varlong(&ten), Ok((i64::MIN, 10)));
        ten[9] = 0x02;
        assert_eq!(
            decode_varlong(&ten),
            Err(VarintError::Overflow { bits: 64 })
        );
    }

    proptest! {
        #[test]
        fn varint_round_trips(value: i32, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut out = Vec::new();
            encode_varint(value, &mut out);
            prop_assert_eq!(out.len(), varint_len(value));
            let used = out.len();
            out.extend_from_slice(&tail);
            prop_assert_eq!(decode_varint(&out), Ok((value, used)));
        }

        #[test]
        fn varlong_round_trips(value: i64, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut out = Vec::new();
            encode_varlong(value, &mut out);
            prop_assert_eq!(out.len(), varlong_len(value));
            let used = out.len();
            out.extend_from_slice(&tail);
            prop_assert_eq!(decode_varlong(&out), Ok((value, used)));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            if let Ok((_, used)) = decode_varint(&bytes) {
                prop_assert!(used <= MAX_VARINT_LEN);
            }
            if let Ok((_, used)) = decode_varlong(&bytes) {
                prop_assert!(used <= MAX_VARLONG_LEN);
            }
        }
    }
}
