//! What a producer wrote, as the broker stores it: the record batches of a partition, read
//! with one raw Fetch (kafka-protocol over plain TCP), so that a test can see the batch
//! attributes no consumer shows (the compression codec).
//!
//! ```text
//!   Fetch v4 (partition, offset 0, read_uncommitted) ─▶ record batches ─▶ attributes & 0x07
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use kafka_protocol::messages::fetch_response::FetchResponse;
use kafka_protocol::messages::{ApiKey, BrokerId, RequestHeader, ResponseHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};

/// Fetch version: v4 has record batches (magic 2) and the last stable offset.
const FETCH_VERSION: i16 = 4;
/// Attribute bit of a control batch (transaction markers).
const CONTROL_BIT: i16 = 0x20;

/// Compression codec of a record batch (Kafka's attribute values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

/// The codec of each data batch (control batches skipped) of `topic`'s `partition`, in log order.
pub fn data_batch_codecs(bootstrap: &str, topic: &str, partition: i32) -> Vec<Codec> {
    let mut stream = TcpStream::connect(bootstrap).unwrap_or_else(|e| panic!("connecting to {bootstrap}: {e}"));
    stream.set_read_timeout(Some(Duration::from_secs(15))).expect("read timeout");
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(100)
        .with_min_bytes(1)
        .with_max_bytes(32 * 1024 * 1024)
        .with_isolation_level(0)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(0)
                .with_partition_max_bytes(32 * 1024 * 1024)])]);
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::Fetch as i16)
        .with_request_api_version(FETCH_VERSION)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("pgcdc-test-batches")));
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header.encode(&mut buf, FetchRequest::header_version(FETCH_VERSION)).expect("encode header");
    request.encode(&mut buf, FETCH_VERSION).expect("encode fetch");
    let len = i32::try_from(buf.len() - 4).expect("request size");
    buf[..4].copy_from_slice(&len.to_be_bytes());
    stream.write_all(&buf).expect("send fetch");
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).expect("response size");
    let mut resp = vec![0u8; usize::try_from(i32::from_be_bytes(len)).expect("response size")];
    stream.read_exact(&mut resp).expect("response");
    let mut resp = Bytes::from(resp);
    ResponseHeader::decode(&mut resp, FetchResponse::header_version(FETCH_VERSION)).expect("response header");
    let response = FetchResponse::decode(&mut resp, FETCH_VERSION).expect("fetch response");
    let data = response
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter())
        .find(|p| p.partition_index == partition)
        .unwrap_or_else(|| panic!("no partition {partition} of {topic} in the fetch response"));
    assert_eq!(data.error_code, 0, "fetch of {topic}/{partition}");
    let mut codecs = Vec::new();
    let mut batches = data.records.clone().unwrap_or_default();
    // baseOffset i64, batchLength i32, partitionLeaderEpoch i32, magic i8, crc u32, attributes i16.
    while batches.len() >= 23 {
        let total = usize::try_from((&batches[8..12]).get_i32()).expect("batch length") + 12;
        if batches.len() < total {
            break; // a partial batch at the end of the response
        }
        let batch = batches.split_to(total);
        assert_eq!(batch[16], 2, "record batch magic");
        let attributes = (&batch[21..23]).get_i16();
        if attributes & CONTROL_BIT != 0 {
            continue;
        }
        codecs.push(match attributes & 0x07 {
            0 => Codec::None,
            1 => Codec::Gzip,
            2 => Codec::Snappy,
            3 => Codec::Lz4,
            4 => Codec::Zstd,
            other => panic!("unknown compression codec {other}"),
        });
    }
    codecs
}
