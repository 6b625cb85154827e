//! Fuzzes the pgoutput decoder: any bytes must decode or fail, never panic,
//! and whatever decodes must survive an encode/decode round trip.
//!
//! Run with `cargo +nightly fuzz run pgoutput` from the repository root.

#![no_main]

// The decoder is pure and depends on `lsn` only: its files are compiled in
// as they are, so the fuzzer tests exactly pgcdc's code without building
// pgcdc's Kafka and TLS dependencies with the sanitizer.
#[allow(dead_code)]
#[path = "../../src/lsn.rs"]
mod lsn;
#[allow(dead_code)]
#[path = "../../src/source/postgres/pgoutput.rs"]
mod pgoutput;

use libfuzzer_sys::fuzz_target;
use pgoutput::{decode, encode};

fuzz_target!(|data: &[u8]| {
    let Some((&flag, payload)) = data.split_first() else {
        return;
    };
    let in_stream = flag & 1 == 1;
    if let Ok(msg) = decode(payload, in_stream) {
        let again = decode(&encode(&msg, in_stream), in_stream);
        assert_eq!(again.as_ref(), Ok(&msg));
    }
});
