package io.debezium.connector.postgresql;
import java.util.*;
import java.io.*;
import java.time.Instant;
import org.apache.kafka.connect.data.*;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.transforms.Transformation;
import org.apache.kafka.connect.transforms.predicates.Predicate;
import io.debezium.transforms.ExtractNewRecordState;
import com.fasterxml.jackson.databind.node.*;
import io.debezium.config.Configuration;
import io.debezium.data.Envelope;
import io.debezium.connector.postgresql.connection.Lsn;
import io.debezium.relational.TableId;

/**
 * Golden outputs of single message transforms (Debezium 3.6.3 / Kafka Connect 4.3) for pgcdc's
 * transform tests: records built with Debezium's own classes (see ../../envelope/golden/Golden.java,
 * whose helpers this reuses), run through the real transform classes, written as Golden does.
 * Usage: SmtGolden DIR
 */
public class SmtGolden {
  static final Instant NOW = Golden.NOW;
  static final Instant COMMIT = Golden.COMMIT;

  @SuppressWarnings("unchecked")
  static Transformation<SourceRecord> smt(String cls, Map<String, String> config) throws Exception {
    Transformation<SourceRecord> t = (Transformation<SourceRecord>) Class.forName(cls).getDeclaredConstructor().newInstance();
    t.configure(config);
    return t;
  }

  static void write(String dir, String name, List<SourceRecord> records, List<Transformation<SourceRecord>> chain) throws Exception {
    ArrayNode out = Golden.M.createArrayNode();
    for (SourceRecord r : records) {
      SourceRecord x = r;
      for (Transformation<SourceRecord> t : chain) {
        if (x == null) break;
        x = t.apply(x);
      }
      if (x == null) { out.addObject().put("dropped", true); continue; }
      out.add(Golden.encode(x, true, "BASE64"));
    }
    try (Writer w = new FileWriter(new File(dir, name + ".json"))) {
      w.write(Golden.M.writerWithDefaultPrettyPrinter().writeValueAsString(out));
      w.write("\n");
    }
  }


  /** One step of a chain: a transform, applied when its predicate (if any) tests true (false with negate), as Connect's TransformationStage. */
  static final class Step {
    final Transformation<SourceRecord> t; final Predicate<SourceRecord> p; final boolean negate;
    Step(Transformation<SourceRecord> t, Predicate<SourceRecord> p, boolean negate) { this.t = t; this.p = p; this.negate = negate; }
  }

  static final String K = "org.apache.kafka.connect.transforms.";

  static Step step(String cls, String... kv) throws Exception { return new Step(smt(K + cls, kv(kv)), null, false); }

  @SuppressWarnings("unchecked")
  static Step when(Step s, boolean negate, String cls, String... kv) throws Exception {
    Predicate<SourceRecord> p = (Predicate<SourceRecord>) Class.forName(K + "predicates." + cls).getDeclaredConstructor().newInstance();
    p.configure(kv(kv));
    return new Step(s.t, p, negate);
  }

  static Map<String, String> kv(String... kv) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
    return m;
  }

  /** Each input through the chain: the record, {"dropped": true}, or {"error": "<exception class>"} when a step throws. */
  static void chain(String dir, String name, List<SourceRecord> records, Step... steps) throws Exception {
    ArrayNode out = Golden.M.createArrayNode();
    for (SourceRecord r : records) {
      SourceRecord x = r;
      String error = null;
      try {
        for (Step s : steps) {
          if (x == null) break;
          if (s.p == null || s.p.test(x) != s.negate) x = s.t.apply(x);
        }
        if (x != null) out.add(Golden.encode(x, true, "BASE64"));
      } catch (RuntimeException e) {
        error = e.getClass().getSimpleName() + ": " + e.getMessage();
      }
      if (error != null) out.addObject().put("error", error);
      else if (x == null) out.addObject().put("dropped", true);
    }
    try (Writer w = new FileWriter(new File(dir, name + ".json"))) {
      w.write(Golden.M.writerWithDefaultPrettyPrinter().writeValueAsString(out));
      w.write("\n");
    }
  }

  /** Kafka record timestamp of the SMT inputs (the envelope's ts_ms). */
  static final long TS = 1800000000987L;

  static List<SourceRecord> stamped(List<SourceRecord> in, Map<String, String> unwrap) {
    ExtractNewRecordState<SourceRecord> t = null;
    if (unwrap != null) { t = new ExtractNewRecordState<>(); t.configure(unwrap); }
    List<SourceRecord> out = new ArrayList<>();
    for (SourceRecord r : in) {
      SourceRecord x = t == null ? r : t.apply(r);
      if (x == null) continue;
      out.add(x.newRecord(x.topic(), x.kafkaPartition(), x.keySchema(), x.key(), x.valueSchema(), x.value(), TS, x.headers()));
    }
    return out;
  }

  /** outbox(id uuid PK, aggregatetype text, aggregateid text, type text, payload text, tenant int4, created_at timestamp, version int4) */
  static List<SourceRecord> outbox(Schema src) {
    Schema key = SchemaBuilder.struct().name("ecommerce.public.outbox.Key")
      .field("id", SchemaBuilder.string().name("io.debezium.data.Uuid").version(1).build()).build();
    Schema val = SchemaBuilder.struct().name("ecommerce.public.outbox.Value").optional()
      .field("id", SchemaBuilder.string().name("io.debezium.data.Uuid").version(1).build())
      .field("aggregatetype", Schema.STRING_SCHEMA)
      .field("aggregateid", Schema.STRING_SCHEMA)
      .field("type", Schema.STRING_SCHEMA)
      .field("payload", Schema.OPTIONAL_STRING_SCHEMA)
      .field("tenant", Schema.OPTIONAL_INT32_SCHEMA)
      .field("created_at", SchemaBuilder.int64().name("io.debezium.time.MicroTimestamp").version(1).optional().build())
      .field("version", Schema.INT32_SCHEMA)
      .build();
    Envelope env = Envelope.defineSchema().withName("ecommerce.public.outbox.Envelope").withRecord(val).withSource(src)
      .withTransaction(io.debezium.pipeline.txmetadata.DefaultTransactionStructMaker.TRANSACTION_BLOCK_SCHEMA).build();
    String topic = "ecommerce.public.outbox";
    TableId tid = new TableId("shop", "public", "outbox");
    SourceInfo si = new SourceInfo(Golden.cfg);
    si.updateLastCommit(Lsn.valueOf(22000000L));
    si.update(Lsn.valueOf(22004000L), COMMIT, 774L, null, tid, null);
    Struct s = Golden.cfg.getSourceInfoStructMaker().struct(si);
    String[][] rows = {
      {"11111111-1111-4111-8111-111111111111", "Order", "o-1", "OrderCreated",
        "{\"id\":1,\"lines\":[{\"sku\":\"a\",\"qty\":2},{\"sku\":\"b\",\"qty\":1,\"note\":null}],\"total\":12.5,\"big\":5000000000,\"paid\":false,\"tags\":[],\"who\":{\"name\":\"x\",\"n\":null},\"ids\":[1,2,null]}"},
      {"22222222-2222-4222-8222-222222222222", "Customer", "c-9", "CustomerRenamed", "{\"name\":\"\u00e9 \\\"q\\\" \\u0001\",\"score\":-0.25e3}"},
      {"33333333-3333-4333-8333-333333333333", "Order", "o-1", "OrderCancelled", null},
      {"44444444-4444-4444-8444-444444444444", "Order", "o-2", "OrderNoted", "  "},
      {"55555555-5555-4555-8555-555555555555", "Customer", "c-9", "CustomerNote", "not json"},
    };
    // (payloads "[1,2]" and {"n":<beyond int64>} make the expanding EventRouter throw: see outbox.rs)
    List<SourceRecord> all = new ArrayList<>();
    int i = 0;
    for (String[] r : rows) {
      Struct after = new Struct(val).put("id", r[0]).put("aggregatetype", r[1]).put("aggregateid", r[2]).put("type", r[3])
        .put("payload", r[4]).put("tenant", i % 2 == 0 ? (Integer) (40 + i) : null)
        .put("created_at", i == 1 ? null : 1700000000123456L + i).put("version", 1 + i);
      all.add(Golden.rec(topic, key, new Struct(key).put("id", r[0]), env.schema(), env.create(after, s, NOW), null));
      i++;
    }
    // an update and a delete (+ tombstone) of the outbox table: not events
    Struct a0 = (Struct) ((Struct) all.get(0).value()).get("after");
    all.add(Golden.rec(topic, key, new Struct(key).put("id", rows[0][0]), env.schema(), env.update(null, a0, s, NOW), null));
    all.addAll(Golden.withTombstone(Golden.rec(topic, key, new Struct(key).put("id", rows[0][0]), env.schema(), env.delete(a0, s, NOW), null)));
    // a snapshot read is routed like an insert
    SourceInfo ss = new SourceInfo(Golden.cfg);
    ss.setSnapshot(io.debezium.connector.SnapshotRecord.LAST);
    ss.update(Lsn.valueOf(22000000L), COMMIT, 770L, null, tid, null);
    all.add(Golden.rec(topic, key, new Struct(key).put("id", rows[1][0]), env.schema(), env.read(a0, Golden.cfg.getSourceInfoStructMaker().struct(ss), NOW), null));
    return all;
  }


  /** Golden.java's stock records (insert, updates, delete + tombstone, key change, snapshot read, truncate). */
  static List<SourceRecord> stockEnvelopes(Schema src) {
    Schema key = SchemaBuilder.struct().name("ecommerce.public.stock.Key").field("id", Schema.INT32_SCHEMA).build();
    Schema val = SchemaBuilder.struct().name("ecommerce.public.stock.Value").optional()
      .field("id", Schema.INT32_SCHEMA).field("product_id", Schema.INT32_SCHEMA)
      .field("quantity", Schema.OPTIONAL_INT32_SCHEMA).field("reserved_quantity", Schema.OPTIONAL_INT32_SCHEMA).build();
    Envelope env = Envelope.defineSchema().withName("ecommerce.public.stock.Envelope").withRecord(val).withSource(src).withTransaction(io.debezium.pipeline.txmetadata.DefaultTransactionStructMaker.TRANSACTION_BLOCK_SCHEMA).build();
    TableId tid = new TableId("shop", "public", "stock");
    SourceInfo si = new SourceInfo(Golden.cfg);
    si.updateLastCommit(Lsn.valueOf(22000000L));
    si.update(Lsn.valueOf(22001000L), COMMIT, 771L, null, tid, null);
    return Golden.stock(key, val, env, "ecommerce.public.stock", tid, Golden.cfg.getSourceInfoStructMaker().struct(si));
  }

  /** The first five rows of Golden.java's table of many types. */
  static List<SourceRecord> measureEnvelopes(Schema src) {
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
    SourceInfo ts = new SourceInfo(Golden.cfg);
    ts.updateLastCommit(null);
    ts.update(Lsn.valueOf(22003000L), COMMIT, 773L, null, new TableId("shop", "public", "measure"), null);
    Struct tsrc = Golden.cfg.getSourceInfoStructMaker().struct(ts);
    List<SourceRecord> types = new ArrayList<>();
    double[] ratios = {1.0, 0.1, 1e10, 1.0E-5, 123456789.125};
    float[] weights = {1.5f, 0.1f, 1e10f, 3.4028235E38f, 1e-5f};
    for (int i = 0; i < ratios.length; i++) {
      Struct row = new Struct(tval).put("id", (long) i)
        .put("price", i % 3 == 0 ? null : new java.math.BigDecimal(i % 2 == 0 ? "-12345678.90" : "0.05"))
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
      types.add(Golden.rec("ecommerce.public.measure", tkey, new Struct(tkey).put("id", (long) i), tenv.schema(), tenv.create(row, tsrc, NOW), null));
    }
    return types;
  }

  /** Kafka Connect's SMTs and predicates (`connect_*.json`). */
  static void connect(String dir, Schema src) throws Exception {
    List<SourceRecord> stock = stamped(stockEnvelopes(src), Map.of());
    SourceRecord first = stock.get(0);
    stock.add(first.newRecord(first.topic(), null, first.keySchema(), first.key(), null, null, TS, first.headers()));
    List<SourceRecord> measure = stamped(measureEnvelopes(src), Map.of());
    List<SourceRecord> envelopes = stamped(stockEnvelopes(src), null);
    List<SourceRecord> both = new ArrayList<>(stock);
    both.addAll(measure);

    chain(dir, "connect_insertfield_value", stock, step("InsertField$Value", "topic.field", "topic", "timestamp.field", "ts!", "static.field", "origin", "static.value", "pg"));
    chain(dir, "connect_insertfield_key", stock, step("InsertField$Key", "static.field", "src!", "static.value", "pgcdc", "topic.field", "t!"));
    chain(dir, "connect_replacefield_value", stock, step("ReplaceField$Value", "exclude", "quantity", "renames", "id:item_id,product_id:pid"));
    chain(dir, "connect_replacefield_include", measure, step("ReplaceField$Value", "include", "id,note,ratio,flag", "renames", "note:comment"));
    chain(dir, "connect_replacefield_key", stock, step("ReplaceField$Key", "renames", "id:key_id"));
    chain(dir, "connect_replacefield_nodefault", measure, step("ReplaceField$Value", "include", "id,note", "replace.null.with.default", "false"));
    chain(dir, "connect_maskfield_value", measure, step("MaskField$Value", "fields", "note,ratio,weight,flag,small,tiny,price,taken_at,tags,attrs,nope"));
    chain(dir, "connect_maskfield_replacement", measure, step("MaskField$Value", "fields", "note,small,ratio,id", "replacement", "12"));
    chain(dir, "connect_maskfield_bytes", measure, step("MaskField$Value", "fields", "data"));
    chain(dir, "connect_maskfield_stock", stock, step("MaskField$Value", "fields", "quantity,product_id", "replacement", "7"));
    chain(dir, "connect_maskfield_key", stock, step("MaskField$Key", "fields", "id"));
    chain(dir, "connect_valuetokey", stock, step("ValueToKey", "fields", "product_id,id"));
    chain(dir, "connect_valuetokey_missing", stock, step("ValueToKey", "fields", "nope"));
    chain(dir, "connect_extractfield_key", stock, step("ExtractField$Key", "field", "id"));
    chain(dir, "connect_extractfield_value", envelopes, step("ExtractField$Value", "field", "after"));
    chain(dir, "connect_extractfield_missing", stock, step("ExtractField$Value", "field", "nope"));
    chain(dir, "connect_hoistfield_value", stock, step("HoistField$Value", "field", "row"));
    chain(dir, "connect_hoistfield_key", stock, step("HoistField$Key", "field", "k"));
    chain(dir, "connect_cast_stock", stock, step("Cast$Value", "spec", "id:string,quantity:float64,reserved_quantity:boolean,product_id:int8"));
    chain(dir, "connect_cast_measure", measure, step("Cast$Value", "spec", "id:int8,ratio:string,weight:float64,flag:int32,small:string,tiny:boolean,price:float64,day:string,note:string,taken_at:int32"));
    chain(dir, "connect_cast_numbers", measure, step("Cast$Value", "spec", "ratio:int64,weight:int16,small:float32,tiny:float64,flag:string,price:string"));
    chain(dir, "connect_cast_bad_string", measure, step("Cast$Value", "spec", "note:int32"));
    chain(dir, "connect_cast_key_whole", stock, step("ExtractField$Key", "field", "id"), step("Cast$Key", "spec", "string"));
    chain(dir, "connect_cast_struct_whole", stock, step("Cast$Key", "spec", "string"));
    chain(dir, "connect_timestamp_micros", measure, step("TimestampConverter$Value", "field", "taken_at", "target.type", "Timestamp", "unix.precision", "microseconds"));
    chain(dir, "connect_timestamp_string", measure, step("TimestampConverter$Value", "field", "taken_at", "target.type", "string", "unix.precision", "microseconds", "format", "yyyy-MM-dd'T'HH:mm:ss.SSS"),
      step("TimestampConverter$Value", "field", "taken_tz", "target.type", "unix", "format", "yyyy-MM-dd'T'HH:mm:ss", "unix.precision", "seconds"));
    chain(dir, "connect_timestamp_patterns", measure,
      step("TimestampConverter$Value", "field", "taken_at", "target.type", "string", "unix.precision", "microseconds",
        "format", "d MMM yy, MMMM yyyyy H 'o''clock' S SS SSSS X XXX Z''"),
      step("TimestampConverter$Value", "field", "taken_tz", "target.type", "Timestamp", "format", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSX"));
    chain(dir, "connect_timestamp_chain", measure, step("TimestampConverter$Value", "field", "taken_at", "target.type", "Timestamp", "unix.precision", "microseconds"),
      step("TimestampConverter$Value", "field", "taken_at", "target.type", "Date"),
      step("TimestampConverter$Value", "field", "taken_at", "target.type", "string", "format", "dd/MM/yy HH:mm"));
    chain(dir, "connect_timestamp_whole", measure, step("ExtractField$Value", "field", "taken_at"),
      step("TimestampConverter$Value", "target.type", "Time", "unix.precision", "microseconds"),
      step("TimestampConverter$Value", "target.type", "unix", "unix.precision", "nanoseconds"));
    for (String target : new String[] {"Timestamp", "Date", "Time"}) {
      chain(dir, "connect_cast_" + target.toLowerCase() + "_string", measure,
        step("TimestampConverter$Value", "field", "taken_at", "target.type", target, "unix.precision", "microseconds"),
        step("Cast$Value", "spec", "taken_at:string"));
    }
    chain(dir, "connect_cast_timestamp_int", measure,
      step("TimestampConverter$Value", "field", "taken_at", "target.type", "Date", "unix.precision", "microseconds"),
      step("Cast$Value", "spec", "taken_at:int64"));
    chain(dir, "connect_setschemametadata_measure", measure, step("SetSchemaMetadata$Value", "schema.version", "9"));
    chain(dir, "connect_setschemametadata", stock, step("SetSchemaMetadata$Value", "schema.name", "shop.stock.Row", "schema.version", "3"),
      step("SetSchemaMetadata$Key", "schema.name", "shop.stock.Id"));
    chain(dir, "connect_filter_tombstones", stock, when(step("Filter"), false, "RecordIsTombstone"));
    chain(dir, "connect_filter_header", stock, when(step("Filter"), true, "HasHeaderKey", "name", "__debezium.oldkey"));
    chain(dir, "connect_filter_topic", both, when(step("Filter"), false, "TopicNameMatches", "pattern", ".*\\.stock"));
    chain(dir, "connect_insertheader", stock, step("InsertHeader", "header", "origin", "value.literal", "pgcdc"),
      step("InsertHeader", "header", "n", "value.literal", "42"), step("InsertHeader", "header", "b", "value.literal", "true"));
    chain(dir, "connect_dropheaders", stock, step("DropHeaders", "headers", "__debezium.context.taskId,__debezium.context.runId,absent"));
    chain(dir, "connect_headerfrom_copy", stock, step("HeaderFrom$Value", "fields", "id,quantity", "headers", "h_id,h_q", "operation", "copy"));
    chain(dir, "connect_headerfrom_move", measure, step("HeaderFrom$Value", "fields", "note,ratio,flag,tags", "headers", "note,ratio,flag,tags", "operation", "move"));
    chain(dir, "connect_headerfrom_key", stock, step("HeaderFrom$Key", "fields", "id", "headers", "key_id", "operation", "move"));
    chain(dir, "connect_timestamprouter", stock, step("TimestampRouter"));
    chain(dir, "connect_timestamprouter_format", stock, step("TimestampRouter", "topic.format", "${timestamp}/${topic}/${topic}", "timestamp.format", "yyyy-MM-dd'T'HH'h'mm.ss.SSS"));
    chain(dir, "connect_flatten_envelope", envelopes, step("Flatten$Value"));
    chain(dir, "connect_flatten_measure", measure, step("Flatten$Value", "delimiter", "_"));
    chain(dir, "connect_flatten_nomaps", measure, step("ReplaceField$Value", "exclude", "attrs,counts"), step("Flatten$Value", "delimiter", "_"));
    chain(dir, "connect_flatten_key", stock, step("HoistField$Key", "field", "k"), step("Flatten$Key", "delimiter", "/"));
    // a predicate on Debezium's own transform: unwrap all but the key-change records
    chain(dir, "connect_predicate_unwrap", envelopes,
      when(new Step(smt("io.debezium.transforms.ExtractNewRecordState", Map.of("delete.tombstone.handling.mode", "rewrite")), null, false), true, "HasHeaderKey", "name", "__debezium.newkey"),
      when(step("InsertHeader", "header", "t", "value.literal", "tomb"), false, "RecordIsTombstone"));
    chain(dir, "connect_chain", both,
      when(step("ReplaceField$Value", "exclude", "reserved_quantity", "renames", "quantity:qty"), false, "TopicNameMatches", "pattern", ".*stock"),
      step("InsertField$Value", "static.field", "origin", "static.value", "pgcdc"),
      when(step("ValueToKey", "fields", "id"), true, "RecordIsTombstone"),
      when(step("ExtractField$Key", "field", "id"), true, "RecordIsTombstone"),
      step("TimestampRouter", "topic.format", "${topic}.${timestamp}", "timestamp.format", "yyyy"),
      step("RegexRouter", "regex", "ecommerce\\.public\\.(.*)", "replacement", "shop.$1"));
  }

  /** Logical decoding messages (prefix "outbox"), as the connector sends them (no context headers), then a table insert and its tombstone. */
  static List<SourceRecord> messages(Schema src, String... contents) {
    var f = PostgresSchemaFactory.get();
    var adj = Golden.cfg.schemaNameAdjuster();
    Schema mk = f.logicalDecodingMessageMonitorKeySchema(adj);
    Schema mb = f.logicalDecodingMessageMonitorBlockSchema(adj, Golden.cfg.binaryHandlingMode());
    Schema mv = f.logicalDecodingMessageMonitorValueSchema(adj, Golden.cfg, Golden.cfg.binaryHandlingMode());
    SourceInfo ms = new SourceInfo(Golden.cfg);
    ms.updateLastCommit(Lsn.valueOf(22000000L));
    ms.update(Lsn.valueOf(22002000L), COMMIT, 772L, null, new TableId("shop", "", ""), null);
    List<SourceRecord> out = new ArrayList<>();
    for (String c : contents) {
      Struct v = new Struct(mv).put("op", "m").put("ts_ms", NOW.toEpochMilli())
        .put("message", new Struct(mb).put("prefix", "outbox").put("content", c.getBytes(java.nio.charset.StandardCharsets.UTF_8)))
        .put("source", Golden.cfg.getSourceInfoStructMaker().struct(ms));
      out.add(new SourceRecord(Map.of(), Map.of(), "ecommerce.message", null, mk, new Struct(mk).put("prefix", "outbox"), mv, v, null, new org.apache.kafka.connect.header.ConnectHeaders()));
    }
    return out;
  }

  static final String[] MESSAGE_CONTENTS = {
    "{\"id\":\"e-1\",\"aggregatetype\":\"Order\",\"aggregateid\":\"o-1\",\"type\":\"OrderCreated\",\"payload\":{\"total\":12.5,\"lines\":[{\"sku\":\"a\",\"qty\":2}],\"paid\":false,\"note\":null,\"big\":5000000000}}",
    "{\"id\":\"e-2\",\"aggregatetype\":\"Customer\",\"aggregateid\":\"c-9\",\"type\":\"CustomerRenamed\",\"payload\":{\"name\":\"\u00e9\",\"tags\":[]},\"extra\":null}",
  };

  /** DecodeLogicalDecodingMessageContent (`decode_*.json`), alone and before the EventRouter. */
  static void decode(String dir, Schema src) throws Exception {
    String cls = "io.debezium.connector.postgresql.transforms.DecodeLogicalDecodingMessageContent";
    List<SourceRecord> in = new ArrayList<>(messages(src, MESSAGE_CONTENTS));
    in.addAll(messages(src, "not json", "[1,2]", "{\"a\":", "{\"a\":[1,\"x\"]}"));
    List<SourceRecord> stock = stockEnvelopes(src);
    in.add(stock.get(0));
    in.add(stock.get(4));
    chain(dir, "decode_default", in, new Step(smt(cls, Map.of()), null, false));
    chain(dir, "decode_nulls", in, new Step(smt(cls, Map.of("fields.null.include", "true")), null, false));
    chain(dir, "decode_outbox", messages(src, MESSAGE_CONTENTS), new Step(smt(cls, Map.of()), null, false),
      new Step(smt("io.debezium.transforms.outbox.EventRouter", Map.of("table.field.event.key", "aggregateid")), null, false));
  }

  /** Debezium's CloudEventsConverter over `records` with `config`: per record the value it writes (a string), null, or {"error": ...}. */
  static void cloudEvents(String dir, String name, List<SourceRecord> records, Map<String, String> config) throws Exception {
    io.debezium.converters.CloudEventsConverter c = new io.debezium.converters.CloudEventsConverter();
    c.configure(config, false);
    ArrayNode out = Golden.M.createArrayNode();
    for (SourceRecord r : records) {
      try {
        byte[] b = c.fromConnectData(r.topic(), new org.apache.kafka.common.header.internals.RecordHeaders(), r.valueSchema(), r.value());
        if (b == null) out.addNull(); else out.add(new String(b, java.nio.charset.StandardCharsets.UTF_8));
      } catch (RuntimeException e) {
        out.addObject().put("error", e.getClass().getSimpleName() + ": " + e.getMessage());
      }
    }
    try (Writer w = new FileWriter(new File(dir, name + ".json"))) {
      w.write(Golden.M.writerWithDefaultPrettyPrinter().writeValueAsString(out));
      w.write("\n");
    }
  }

  /** The stock envelopes, the first insert again inside a transaction, and a logical decoding message. */
  static List<SourceRecord> cloudEventsInputs(Schema src) {
    List<SourceRecord> in = new ArrayList<>(stockEnvelopes(src));
    SourceRecord first = in.get(0);
    Struct v = (Struct) first.value();
    Struct tv = new Struct(v.schema());
    for (Field f : v.schema().fields()) tv.put(f, v.get(f));
    Schema txs = v.schema().field("transaction").schema();
    tv.put("transaction", new Struct(txs).put("id", "771:22001000").put("total_order", 3L).put("data_collection_order", 2L));
    in.add(first.newRecord(first.topic(), null, first.keySchema(), first.key(), first.valueSchema(), tv, first.timestamp(), first.headers()));
    in.addAll(messages(src, "{\"a\":1}"));
    return in;
  }

  static void cloudEventsAll(String dir, Schema src) throws Exception {
    cloudEvents(dir, "cloudevents_default", cloudEventsInputs(src), Map.of());
    cloudEvents(dir, "cloudevents_noschemas", cloudEventsInputs(src), Map.of("json.schemas.enable", "false", "extension.attributes.enable", "false",
      "serializer.type", "json", "data.serializer.type", "json"));
    cloudEvents(dir, "cloudevents_measure", measureEnvelopes(src), Map.of("json.schemas.enable", "false"));
    cloudEvents(dir, "cloudevents_measure_schemas", measureEnvelopes(src), Map.of("json.decimal.format", "NUMERIC"));
  }

  /** Debezium's HeaderToValue (`headertovalue_*.json`). */
  static void headerToValue(String dir, Schema src) throws Exception {
    String cls = "io.debezium.transforms.HeaderToValue";
    List<SourceRecord> stock = stamped(stockEnvelopes(src), Map.of());
    SourceRecord first = stock.get(0);
    stock.add(first.newRecord(first.topic(), null, first.keySchema(), first.key(), null, null, TS, first.headers()));
    chain(dir, "headertovalue_copy", stock, new Step(smt(cls, Map.of(
      "headers", "__debezium.context.connectorLogicalName,__debezium.context.taskId,absent",
      "fields", "logical,task,none", "operation", "copy")), null, false));
    chain(dir, "headertovalue_move_envelope", stamped(stockEnvelopes(src), null), new Step(smt(cls, Map.of(
      "headers", "__debezium.context.runId,__debezium.oldkey", "fields", "run,oldkey", "operation", "move")), null, false));
  }

  public static void main(String[] a) throws Exception {
    String dir = a[0];
    Configuration c = Configuration.create().with("topic.prefix","ecommerce").with("database.dbname","shop")
      .with("database.hostname","localhost").with("database.user","u").with("plugin.name","pgoutput").build();
    Golden.cfg = new PostgresConnectorConfig(c);
    Schema src = Golden.cfg.getSourceInfoStructMaker().schema();
    String router = "io.debezium.transforms.outbox.EventRouter";
    connect(dir, src);
    decode(dir, src);
    headerToValue(dir, src);
    cloudEventsAll(dir, src);

    write(dir, "outbox_default", outbox(src), List.of(smt(router, Map.of())));
    write(dir, "outbox_expand_envelope", outbox(src), List.of(smt(router, Map.of(
      "table.expand.json.payload", "true",
      "table.fields.additional.placement", "type:header:eventType,aggregateid:envelope:aggId,tenant:envelope, created_at:header",
      "route.tombstone.on.empty.payload", "true",
      "table.field.event.timestamp", "created_at",
      "route.topic.replacement", "events.${routedByValue}"))));
    write(dir, "outbox_expand_options", outbox(src), List.of(smt(router, Map.of(
      "table.expand.json.payload", "true",
      "table.json.payload.empty.array.behavior", "optional_string",
      "table.field.event.key", "tenant",
      "table.field.event.id", "aggregateid",
      "table.field.event.schema.version", "version",
      "table.fields.additional.placement", "type:envelope",
      "route.by.field", "type",
      "route.topic.regex", "(Order|Customer)(.*)",
      "route.topic.replacement", "$2.$1"))));
  }
}
