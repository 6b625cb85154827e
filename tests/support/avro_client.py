#!/usr/bin/env python3
"""Confluent's own Python client (confluent-kafka[avro,schemaregistry]) as the
independent reader of pgcdc's Avro output and as the check of the tests'
schema registry (tests/support/registry.rs).

  avro_client.py check-registry URL
      Drives SchemaRegistryClient, AvroSerializer and AvroDeserializer against
      the registry at URL and checks every answer the way Confluent's registry
      gives it (ids, versions, lookups, 409 incompatible, 42201 invalid,
      40401/40403 not found, compatibility config). Prints one line per check;
      exits 1 at the first difference.

  avro_client.py decode URL BOOTSTRAP TOPIC COUNT TIMEOUT_S
      Reads TOPIC from the beginning (every partition) until COUNT records or
      TIMEOUT_S, and prints one JSON line per record:
      {"partition","offset","key","value","key_id","value_id"}, key and value
      decoded by AvroDeserializer (null for a Kafka null), ids from the wire
      header. Bytes and decimals are written as Kafka Connect's JsonConverter
      writes them (base64 of the bytes / of the unscaled two's complement), so
      they compare with its payloads.

  avro_client.py raw BOOTSTRAP TOPIC COUNT TIMEOUT_S
      Reads TOPIC from the beginning (every partition) until COUNT records or
      TIMEOUT_S with a plain Consumer (librdkafka decompresses whatever codec
      the batches have), and prints one JSON line per record:
      {"partition","offset","key","value","headers"}, bytes as base64.
"""
import base64
import datetime
import decimal
import json
import sys
import time

from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.schema_registry import SchemaRegistryClient, Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import SerializationContext, MessageField


def plain(v):
    """An Avro datum as Connect's JsonConverter would print it."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, decimal.Decimal):
        scale = -v.as_tuple().exponent
        n = int(v.scaleb(scale))
        size = (~n if n < 0 else n).bit_length() // 8 + 1
        return base64.b64encode(n.to_bytes(size, "big", signed=True)).decode()
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    return v


def expect(cond, what):
    if not cond:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)
    print(f"ok: {what}", flush=True)


def expect_error(fn, status, code, what):
    try:
        fn()
    except SchemaRegistryError as e:
        expect(e.http_status_code == status and e.error_code == code,
               f"{what} -> HTTP {e.http_status_code} error_code {e.error_code} ({e.error_message})")
        return
    expect(False, f"{what} -> no error")


def check_registry(url):
    client = SchemaRegistryClient({"url": url})
    v1 = json.dumps({"type": "record", "name": "Value", "namespace": "check.public.t",
                     "fields": [{"name": "id", "type": "int"},
                                {"name": "v", "type": ["null", "string"], "default": None}]})
    v2 = json.dumps({"type": "record", "name": "Value", "namespace": "check.public.t",
                     "fields": [{"name": "id", "type": "int"},
                                {"name": "v", "type": ["null", "string"], "default": None},
                                {"name": "w", "type": ["null", "long"], "default": None}]})
    bad = json.dumps({"type": "record", "name": "Value", "namespace": "check.public.t",
                      "fields": [{"name": "id", "type": "string"}]})
    subject = "check.public.t-value"
    id1 = client.register_schema(subject, Schema(v1, "AVRO"))
    expect(id1 == client.register_schema(subject, Schema(v1, "AVRO")), "the same schema registered twice keeps its id")
    expect(json.loads(client.get_schema(id1).schema_str) == json.loads(v1), "GET /schemas/ids/{id} gives the schema back")
    id2 = client.register_schema(subject, Schema(v2, "AVRO"))
    expect(id2 != id1, "a compatible new schema gets a new id")
    expect(client.get_versions(subject) == [1, 2], "two versions")
    latest = client.get_latest_version(subject)
    expect(latest.version == 2 and latest.schema_id == id2, "latest is version 2")
    expect(client.get_version(subject, 1).schema_id == id1, "version 1 keeps the first id")
    found = client.lookup_schema(subject, Schema(v1, "AVRO"))
    expect(found.schema_id == id1 and found.version == 1, "lookup finds version 1")
    expect(subject in client.get_subjects(), "GET /subjects lists the subject")
    expect(client.register_schema("other-value", Schema(v1, "AVRO")) == id1, "the same schema under another subject has the same id")
    level = client.set_compatibility(subject, "BACKWARD")  # the body, {"compatibility": ...}
    expect((level if isinstance(level, str) else level.get("compatibility")) == "BACKWARD", "PUT /config/{subject}")
    expect_error(lambda: client.register_schema(subject, Schema(bad, "AVRO")), 409, 409, "an incompatible schema is refused")
    expect_error(lambda: client.register_schema(subject, Schema("{not json", "AVRO")), 422, 42201, "an invalid schema is refused")
    expect_error(lambda: client.get_latest_version("no-such-subject"), 404, 40401, "an unknown subject")
    expect_error(lambda: client.lookup_schema(subject, Schema(bad, "AVRO")), 404, 40403, "an unknown schema of a known subject")
    expect_error(lambda: client.get_schema(9999), 404, 40403, "an unknown id")
    client.set_compatibility(subject, "NONE")
    id3 = client.register_schema(subject, Schema(bad, "AVRO"))
    expect(client.get_versions(subject) == [1, 2, 3], "compatibility NONE accepts it as version 3")

    ser = AvroSerializer(client, v2)
    de = AvroDeserializer(client)
    ctx = SerializationContext("check.public.t", MessageField.VALUE)
    data = ser({"id": 7, "v": "x", "w": 9}, ctx)
    expect(data[0] == 0 and int.from_bytes(data[1:5], "big") == id2, "AvroSerializer frames with the registered id")
    expect(de(data, ctx) == {"id": 7, "v": "x", "w": 9}, "AvroDeserializer reads it back")
    print("registry-check: passed", flush=True)


# read_uncommitted, as the tests' Rust consumer: tansu was seen to stop answering
# read_committed fetches of a partition (its last stable offset stuck at 0) while every
# record was committed; these checks are about the records' bytes, not about aborts
# (the exactly-once checks read the log's transaction markers themselves).
READ = "read_uncommitted"


def assign_when_ready(consumer, topic, deadline):
    """Assigns every partition of TOPIC from the beginning once the broker lists it with
    its partitions and leaders: a consumer assigned to a topic its metadata does not show
    yet waits for librdkafka's next metadata refresh (minutes by default), and under load
    the tests start reading right after pgcdc created the topic."""
    parts = [0]
    while time.time() < deadline:
        meta = consumer.list_topics(topic, timeout=5)
        t = meta.topics.get(topic)
        if t is not None and t.error is None and t.partitions and all(p.leader >= 0 for p in t.partitions.values()):
            parts = sorted(t.partitions.keys())
            break
        time.sleep(0.2)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])


def decode(url, bootstrap, topic, count, timeout):
    client = SchemaRegistryClient({"url": url})
    de = AvroDeserializer(client)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"avro-check-{time.time_ns()}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "isolation.level": READ, "topic.metadata.refresh.interval.ms": 1000})
    deadline = time.time() + timeout
    assign_when_ready(consumer, topic, deadline)
    out = []
    while len(out) < count and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        rec = {"partition": msg.partition(), "offset": msg.offset()}
        for side, raw, field in (("key", msg.key(), MessageField.KEY), ("value", msg.value(), MessageField.VALUE)):
            if raw is None:
                rec[side], rec[side + "_id"] = None, None
                continue
            rec[side + "_id"] = int.from_bytes(raw[1:5], "big")
            rec[side] = plain(de(raw, SerializationContext(topic, field)))
        out.append(rec)
    consumer.close()
    out.sort(key=lambda r: (r["partition"], r["offset"]))
    for r in out:
        print(json.dumps(r))


def raw(bootstrap, topic, count, timeout):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"raw-check-{time.time_ns()}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "isolation.level": READ, "topic.metadata.refresh.interval.ms": 1000})
    deadline = time.time() + timeout
    assign_when_ready(consumer, topic, deadline)
    out = []
    b64 = lambda b: None if b is None else base64.b64encode(b).decode()
    while len(out) < count and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        out.append({"partition": msg.partition(), "offset": msg.offset(), "key": b64(msg.key()),
                    "value": b64(msg.value()), "headers": [[k, b64(v)] for k, v in (msg.headers() or [])]})
    consumer.close()
    out.sort(key=lambda r: (r["partition"], r["offset"]))
    for r in out:
        print(json.dumps(r))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "check-registry":
        check_registry(sys.argv[2])
    elif len(sys.argv) == 6 and sys.argv[1] == "raw":
        raw(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    elif len(sys.argv) == 7 and sys.argv[1] == "decode":
        decode(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), float(sys.argv[6]))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
