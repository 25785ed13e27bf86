//! Decodes arbitrary bytes as a request frame body: header, then the body of whatever API and
//! version the first bytes name. Any outcome but a panic or an abort is fine; a frame that
//! claims billions of array elements must not allocate for them.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = strom_protocol::decode_request(bytes::Bytes::copy_from_slice(data));
});
