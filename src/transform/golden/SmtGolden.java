package io.debezium.connector.postgresql;
import java.util.*;
import java.io.*;
import java.time.Instant;
import org.apache.kafka.connect.data.*;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.transforms.Transformation;
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

  public static void main(String[] a) throws Exception {
    String dir = a[0];
    Configuration c = Configuration.create().with("topic.prefix","ecommerce").with("database.dbname","shop")
      .with("database.hostname","localhost").with("database.user","u").with("plugin.name","pgoutput").build();
    Golden.cfg = new PostgresConnectorConfig(c);
    Schema src = Golden.cfg.getSourceInfoStructMaker().schema();
    String router = "io.debezium.transforms.outbox.EventRouter";

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
