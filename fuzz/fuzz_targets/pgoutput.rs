//! Fuzzes the pgoutput decoder: any bytes must decode or fail, never panic,
//! and whatever decodes must survive an encode/decode round trip.
//!
//! Run with `cargo +nightly fuzz run pgoutput` from the repository root.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pgcdc::source::postgres::pgoutput::{decode, encode};

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
