package io.debezium.connector.postgresql;
import java.util.*;
import java.io.*;
import java.math.BigDecimal;
import java.time.Instant;
import org.apache.kafka.connect.data.*;
import org.apache.kafka.connect.header.*;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.storage.SimpleHeaderConverter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.*;
import io.debezium.config.Configuration;
import io.debezium.data.Envelope;
import io.debezium.connector.postgresql.connection.Lsn;
import io.debezium.relational.TableId;
import io.debezium.transforms.ExtractNewRecordState;

/** Generates golden outputs for pgcdc's envelope/unwrap/json tests from Debezium 3.6.3's own classes. */
public class Golden {
  static final ObjectMapper M = new ObjectMapper();
  static PostgresConnectorConfig cfg;
  static final Instant NOW = Instant.ofEpochSecond(1800000000L, 987654321L);
  static final Instant COMMIT = Instant.ofEpochSecond(1700000000L, 123456000L);

  static SourceRecord rec(String topic, Schema ks, Object k, Schema vs, Object v, Headers own) {
    ConnectHeaders h = new ConnectHeaders(own == null ? new ConnectHeaders() : own);
    h.addString("__debezium.context.connectorLogicalName", "ecommerce");
    h.addString("__debezium.context.taskId", "0");
    h.addString("__debezium.context.connectorName", "postgresql");
    h.addString("__debezium.context.runId", "00000000-0000-4000-8000-000000000000");
    return new SourceRecord(Map.of(), Map.of(), topic, null, ks, k, vs, v, null, h);
  }

  static List<SourceRecord> withTombstone(SourceRecord del) {
    List<SourceRecord> l = new ArrayList<>();
    l.add(del);
    l.add(del.newRecord(del.topic(), del.kafkaPartition(), del.keySchema(), del.key(), null, null, del.timestamp(), del.headers()));
    return l;
  }

  static ObjectNode encode(SourceRecord r, boolean schemas, String decimalFormat) {
    JsonConverter kc = new JsonConverter();
    kc.configure(Map.of("schemas.enable", String.valueOf(schemas), "decimal.format", decimalFormat), true);
    JsonConverter vc = new JsonConverter();
    vc.configure(Map.of("schemas.enable", String.valueOf(schemas), "decimal.format", decimalFormat), false);
    SimpleHeaderConverter hc = new SimpleHeaderConverter();
    hc.configure(Map.of());
    ObjectNode o = M.createObjectNode();
    o.put("topic", r.topic());
    byte[] k = kc.fromConnectData(r.topic(), r.keySchema(), r.key());
    byte[] v = vc.fromConnectData(r.topic(), r.valueSchema(), r.value());
    if (k == null) o.putNull("key"); else o.put("key", new String(k));
    if (v == null) o.putNull("value"); else o.put("value", new String(v));
    ArrayNode hs = o.putArray("headers");
    for (Header h : r.headers()) {
      ArrayNode p = hs.addArray();
      p.add(h.key());
      byte[] hb = hc.fromConnectHeader(r.topic(), h.key(), h.schema(), h.value());
      if (hb == null) p.addNull(); else p.add(new String(hb));
    }
    return o;
  }

  static void write(String dir, String name, java.util.function.Supplier<List<SourceRecord>> records, Map<String, String> unwrapCfg, boolean schemas, String decimalFormat) throws Exception {
    ArrayNode out = M.createArrayNode();
    ExtractNewRecordState<SourceRecord> t = null;
    if (unwrapCfg != null) { t = new ExtractNewRecordState<>(); t.configure(unwrapCfg); }
    for (SourceRecord r : records.get()) {
      SourceRecord x = t == null ? r : t.apply(r);
      if (x == null) { out.addObject().put("dropped", true); continue; }
      out.add(encode(x, schemas, decimalFormat));
    }
    try (Writer w = new FileWriter(new File(dir, name + ".json"))) {
      w.write(M.writerWithDefaultPrettyPrinter().writeValueAsString(out));
      w.write("\n");
    }
  }

  static List<SourceRecord> stock(Schema key, Schema val, Envelope env, String topic, TableId tid, Struct srcStruct) {
    List<SourceRecord> all = new ArrayList<>();
    // insert
    Struct a1 = new Struct(val).put("id", 1).put("product_id", 10).put("quantity", 5).put("reserved_quantity", null);
    all.add(rec(topic, key, new Struct(key).put("id", 1), env.schema(), env.create(a1, srcStruct, NOW), null));
    // update, no before (replica identity default)
    Struct a2 = new Struct(val).put("id", 1).put("product_id", 10).put("quantity", 4).put("reserved_quantity", 1);
    all.add(rec(topic, key, new Struct(key).put("id", 1), env.schema(), env.update(null, a2, srcStruct, NOW), null));
    // update with full before
    all.add(rec(topic, key, new Struct(key).put("id", 1), env.schema(), env.update(a1, a2, srcStruct, NOW), null));
    // delete (before: key + zero for required + nulls)
    Struct b3 = new Struct(val).put("id", 1).put("product_id", 0).put("quantity", null).put("reserved_quantity", null);
    all.addAll(withTombstone(rec(topic, key, new Struct(key).put("id", 1), env.schema(), env.delete(b3, srcStruct, NOW), null)));
    // primary key change 1 -> 2
    Struct oldKey = new Struct(key).put("id", 1), newKey = new Struct(key).put("id", 2);
    ConnectHeaders h1 = new ConnectHeaders(); h1.add("__debezium.newkey", newKey, key);
    all.addAll(withTombstone(rec(topic, key, oldKey, env.schema(), env.delete(b3, srcStruct, NOW), h1)));
    ConnectHeaders h2 = new ConnectHeaders(); h2.add("__debezium.oldkey", oldKey, key);
    Struct a4 = new Struct(val).put("id", 2).put("product_id", 10).put("quantity", 4).put("reserved_quantity", 1);
    all.add(rec(topic, key, newKey, env.schema(), env.create(a4, srcStruct, NOW), h2));
    // snapshot read
    SourceInfo ss = new SourceInfo(cfg);
    ss.setSnapshot(io.debezium.connector.SnapshotRecord.LAST);
    ss.update(Lsn.valueOf(22000000L), COMMIT, 770L, null, tid, null);
    all.add(rec(topic, key, new Struct(key).put("id", 1), env.schema(), env.read(a1, cfg.getSourceInfoStructMaker().struct(ss), NOW), null));
    // truncate
    all.add(rec(topic, null, null, env.schema(), env.truncate(srcStruct, NOW), null));

    return all;
  }
  public static void main(String[] a) throws Exception {
    String dir = a[0];
    Configuration c = Configuration.create().with("topic.prefix","ecommerce").with("database.dbname","shop")
      .with("database.hostname","localhost").with("database.user","u").with("plugin.name","pgoutput").build();
    cfg = new PostgresConnectorConfig(c);
    Schema src = cfg.getSourceInfoStructMaker().schema();

    // stock(id int4 PK, product_id int4 not null, quantity int4, reserved_quantity int4)
    Schema key = SchemaBuilder.struct().name("ecommerce.public.stock.Key").field("id", Schema.INT32_SCHEMA).build();
    Schema val = SchemaBuilder.struct().name("ecommerce.public.stock.Value").optional()
      .field("id", Schema.INT32_SCHEMA).field("product_id", Schema.INT32_SCHEMA)
      .field("quantity", Schema.OPTIONAL_INT32_SCHEMA).field("reserved_quantity", Schema.OPTIONAL_INT32_SCHEMA).build();
    Envelope env = Envelope.defineSchema().withName("ecommerce.public.stock.Envelope").withRecord(val).withSource(src).withTransaction(io.debezium.pipeline.txmetadata.DefaultTransactionStructMaker.TRANSACTION_BLOCK_SCHEMA).build();
    String topic = "ecommerce.public.stock";
    TableId tid = new TableId("shop", "public", "stock");

    SourceInfo si = new SourceInfo(cfg);
    si.updateLastCommit(Lsn.valueOf(22000000L));
    si.update(Lsn.valueOf(22001000L), COMMIT, 771L, null, tid, null);
    Struct srcStruct = cfg.getSourceInfoStructMaker().struct(si);

    // message
    var f = PostgresSchemaFactory.get();
    var adj = cfg.schemaNameAdjuster();
    Schema mk = f.logicalDecodingMessageMonitorKeySchema(adj);
    Schema mb = f.logicalDecodingMessageMonitorBlockSchema(adj, cfg.binaryHandlingMode());
    Schema mv = f.logicalDecodingMessageMonitorValueSchema(adj, cfg, cfg.binaryHandlingMode());
    SourceInfo ms = new SourceInfo(cfg);
    ms.updateLastCommit(Lsn.valueOf(22000000L));
    ms.update(Lsn.valueOf(22002000L), COMMIT, 772L, null, new TableId("shop", "", ""), null);
    Struct msgStruct = new Struct(mv).put("op", "m").put("ts_ms", NOW.toEpochMilli())
      .put("message", new Struct(mb).put("prefix", "audit").put("content", "hello".getBytes()))
      .put("source", cfg.getSourceInfoStructMaker().struct(ms));
    List<SourceRecord> msgs = List.of(rec("ecommerce.message", mk, new Struct(mk).put("prefix", "audit"), mv, msgStruct, null));

    write(dir, "stock_envelope_schemas", () -> stock(key, val, env, topic, tid, srcStruct), null, true, "BASE64");
    write(dir, "stock_envelope_noschemas", () -> stock(key, val, env, topic, tid, srcStruct), null, false, "BASE64");
    write(dir, "stock_unwrap_default", () -> stock(key, val, env, topic, tid, srcStruct), Map.of(), true, "BASE64");
    write(dir, "stock_unwrap_rewrite", () -> stock(key, val, env, topic, tid, srcStruct), Map.of("delete.tombstone.handling.mode", "rewrite",
       "add.fields", "op,table,lsn,source.ts_ms,ts_ms,db:database",
       "add.headers", "op,source.ts_ms,db,txId:tx"), true, "BASE64");
    write(dir, "stock_unwrap_rewrite_tombstone", () -> stock(key, val, env, topic, tid, srcStruct), Map.of("delete.tombstone.handling.mode", "rewrite-with-tombstone",
       "add.fields", "name,sequence", "add.fields.prefix", "meta_"), false, "BASE64");
    write(dir, "stock_unwrap_drop", () -> stock(key, val, env, topic, tid, srcStruct), Map.of("delete.tombstone.handling.mode", "drop"), false, "BASE64");
    write(dir, "stock_unwrap_delete_to_tombstone", () -> stock(key, val, env, topic, tid, srcStruct), Map.of("delete.tombstone.handling.mode", "delete-to-tombstone"), false, "BASE64");
    write(dir, "message_envelope", () -> msgs, null, true, "BASE64");
    write(dir, "message_unwrap", () -> msgs, Map.of(), true, "BASE64");

    // a table of many types
    Schema tkey = SchemaBuilder.struct().name("ecommerce.public.measure.Key").field("id", Schema.INT64_SCHEMA).build();
    Schema tval = SchemaBuilder.struct().name("ecommerce.public.measure.Value").optional()
      .field("id", Schema.INT64_SCHEMA)
      .field("price", Decimal.builder(2).optional().parameter("connect.decimal.precision", "10").build())
      .field("taken_at", SchemaBuilder.int64().name("io.debezium.time.MicroTimestamp").version(1).optional().build())
      .field("taken_tz", SchemaBuilder.string().name("io.debezium.time.ZonedTimestamp").version(1).optional().build())
      .field("day", SchemaBuilder.int32().name("io.debezium.time.Date").version(1).optional().build())
      .field("note", SchemaBuilder.string().optional().defaultValue("n/a").build())
      .field("ratio", Schema.OPTIONAL_FLOAT64_SCHEMA)
      .field("weight", Schema.OPTIONAL_FLOAT32_SCHEMA)
      .field("flag", SchemaBuilder.bool().defaultValue(true).build())
      .field("small", Schema.OPTIONAL_INT16_SCHEMA)
      .field("tiny", Schema.OPTIONAL_INT8_SCHEMA)
      .field("data", Schema.OPTIONAL_BYTES_SCHEMA)
      .field("tags", SchemaBuilder.array(Schema.OPTIONAL_STRING_SCHEMA).optional().build())
      .field("attrs", SchemaBuilder.map(Schema.STRING_SCHEMA, Schema.OPTIONAL_STRING_SCHEMA).optional().build())
      .field("counts", SchemaBuilder.map(Schema.INT32_SCHEMA, Schema.INT64_SCHEMA).optional().build())
      .field("vardec", SchemaBuilder.struct().name("io.debezium.data.VariableScaleDecimal").version(1).doc("Variable scaled decimal").optional()
          .field("scale", Schema.INT32_SCHEMA).field("value", Schema.BYTES_SCHEMA).build())
      .build();
    Envelope tenv = Envelope.defineSchema().withName("ecommerce.public.measure.Envelope").withRecord(tval).withSource(src).withTransaction(io.debezium.pipeline.txmetadata.DefaultTransactionStructMaker.TRANSACTION_BLOCK_SCHEMA).build();
    String ttopic = "ecommerce.public.measure";
    SourceInfo ts = new SourceInfo(cfg);
    ts.updateLastCommit(null);
    ts.update(Lsn.valueOf(22003000L), COMMIT, 773L, null, new TableId("shop", "public", "measure"), null);
    Struct tsrc = cfg.getSourceInfoStructMaker().struct(ts);
    List<SourceRecord> types = new ArrayList<>();
    double[] ratios = {1.0, 0.1, 1e10, 1.0E-5, 123456789.125, -0.0, Double.NaN, Double.POSITIVE_INFINITY, 1e7, 9999999.0, 0.001, 1.7976931348623157E308, 4.9E-324};
    float[] weights = {1.5f, 0.1f, 1e10f, 3.4028235E38f, 1e-5f, Float.NaN, 100.0f, 1e7f, 12345.678f, 0.001f, 1.0E-45f, Float.NEGATIVE_INFINITY, 2.5e-3f};
    for (int i = 0; i < ratios.length; i++) {
      Struct row = new Struct(tval).put("id", (long) i)
        .put("price", i % 3 == 0 ? null : new BigDecimal(i % 2 == 0 ? "-12345678.90" : "0.05"))
        .put("taken_at", i == 0 ? null : 1700000000123456L * (i % 2 == 0 ? 1 : -1))
        .put("taken_tz", i == 0 ? null : "2023-11-14T22:13:20.123456Z")
        .put("day", i == 0 ? null : 19675)
        .put("note", i == 1 ? null : (i == 2 ? "quote \" backslash \\ tab \t nl \n ctl \u0001 uni \u00e9\u4e2d \ud83d\ude00 </script>" : "plain"))
        .put("ratio", ratios[i]).put("weight", weights[i]).put("flag", i % 2 == 0)
        .put("small", (short) (i == 3 ? -32768 : i)).put("tiny", (byte) (i == 4 ? -128 : i))
        .put("data", i == 0 ? null : new byte[]{0, (byte) 0xff, (byte) i, 65})
        .put("tags", i == 0 ? null : Arrays.asList("a", null, "c"))
        .put("attrs", i == 0 ? null : new LinkedHashMap<>(Map.of("k", "v")))
        .put("counts", i == 0 ? null : new LinkedHashMap<>(Map.of(7, 70L)))
        .put("vardec", i == 0 ? null : new Struct(tval.field("vardec").schema()).put("scale", 3).put("value", new byte[]{0x30, 0x39}));
      types.add(rec(ttopic, tkey, new Struct(tkey).put("id", (long) i), tenv.schema(), tenv.create(row, tsrc, NOW), null));
    }
    write(dir, "measure_envelope_schemas", () -> types, null, true, "BASE64");
    write(dir, "measure_envelope_noschemas_numeric", () -> types, null, false, "NUMERIC");
    write(dir, "measure_unwrap_schemas", () -> types, Map.of("add.fields", "op,source.ts_ms"), true, "BASE64");
  }
}
