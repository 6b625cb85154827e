//! Comparing transformed records with the goldens of `golden/` (made by
//! `golden/SmtGolden.java` from the real transform classes): JsonConverter
//! with schemas, BASE64 decimals; `{"dropped": true}` entries are records
//! the transform dropped.

use crate::encode::json::DecimalFormat;
use crate::encode::{JsonOptions, RecordEncoder};
use crate::record::Record;

pub(crate) fn assert_golden_file(name: &str, records: &[Record]) {
    let path = format!(
        "{}/src/transform/golden/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
    let want: Vec<&serde_json::Value> = golden
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g.get("dropped").is_none())
        .collect();
    let opts = JsonOptions {
        schemas_enable: true,
        decimal_format: DecimalFormat::Base64,
        replace_null_with_default: true,
    };
    let mut enc = RecordEncoder::new(opts.clone(), opts);
    assert_eq!(records.len(), want.len(), "{name}: record count");
    for (n, (r, g)) in records.iter().zip(want).enumerate() {
        let e = enc.encode(r).unwrap();
        let s = |b: &Option<Vec<u8>>| b.as_ref().map(|b| String::from_utf8(b.clone()).unwrap());
        assert_eq!(e.topic, g["topic"].as_str().unwrap(), "{name}[{n}] topic");
        assert_eq!(s(&e.key).as_deref(), g["key"].as_str(), "{name}[{n}] key");
        assert_eq!(
            s(&e.payload).as_deref(),
            g["value"].as_str(),
            "{name}[{n}] value"
        );
        let headers: Vec<(String, Option<String>)> =
            e.headers.iter().map(|(k, v)| (k.clone(), s(v))).collect();
        let want_headers: Vec<(String, Option<String>)> = g["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap().to_owned(),
                    h[1].as_str().map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(headers, want_headers, "{name}[{n}] headers");
    }
}
