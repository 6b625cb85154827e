import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.embedded.Connect;
import java.io.FileInputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.connect.header.Header;
import org.apache.kafka.connect.json.JsonConverter;
import org.apache.kafka.connect.source.SourceRecord;
import org.apache.kafka.connect.storage.SimpleHeaderConverter;

/**
 * Format oracle: runs Debezium's embedded engine from a properties file and writes every record,
 * after the configured transforms, exactly as a Kafka Connect worker would serialize it
 * (JsonConverter for key/value, SimpleHeaderConverter for headers), one JSON line per record:
 * {"topic","key","value","headers"}. Optionally also produces the bytes to Kafka.
 *
 * Usage: DebeziumOracle PROPS OUT.jsonl MAX_EVENTS IDLE_MS MAX_SECONDS
 * Stops after MAX_EVENTS records, or IDLE_MS without a record (counted once a record was seen),
 * or MAX_SECONDS in total. Converter settings are read from key.converter.* / value.converter.*
 * (e.g. value.converter.schemas.enable=false); oracle.kafka.bootstrap.servers turns on producing.
 * With oracle.avro.subjects=FILE every key and value also goes through Confluent's AvroConverter
 * (configured from key.converter.* / value.converter.*, schema.registry.url ignored) against an
 * in-process MockSchemaRegistryClient, and FILE receives what it registered:
 * {"subject": [schema of version 1, version 2, ...], ...}.
 */
public final class DebeziumOracle {
    private static Map<String, String> sub(Properties p, String prefix) {
        Map<String, String> m = new HashMap<>();
        for (String k : p.stringPropertyNames()) {
            if (k.startsWith(prefix)) m.put(k.substring(prefix.length()), p.getProperty(k));
        }
        return m;
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) { props.load(in); }
        long maxEvents = Long.parseLong(args[2]);
        long idleMs = Long.parseLong(args[3]);
        long maxMs = Long.parseLong(args[4]) * 1000L;

        JsonConverter keyConv = new JsonConverter();
        keyConv.configure(sub(props, "key.converter."), true);
        JsonConverter valConv = new JsonConverter();
        valConv.configure(sub(props, "value.converter."), false);
        SimpleHeaderConverter hdrConv = new SimpleHeaderConverter();
        hdrConv.configure(new HashMap<>());

        KafkaProducer<byte[], byte[]> producer = null;
        Map<String, String> kafka = sub(props, "oracle.kafka.");
        if (!kafka.isEmpty()) {
            Map<String, Object> pc = new HashMap<>(kafka);
            pc.put("key.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
            pc.put("value.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
            producer = new KafkaProducer<>(pc);
        }
        final KafkaProducer<byte[], byte[]> prod = producer;

        String avroSubjects = props.getProperty("oracle.avro.subjects");
        io.confluent.kafka.schemaregistry.client.MockSchemaRegistryClient avroRegistry = null;
        io.confluent.connect.avro.AvroConverter avroKey = null, avroVal = null;
        if (avroSubjects != null) {
            avroRegistry = new io.confluent.kafka.schemaregistry.client.MockSchemaRegistryClient();
            avroKey = new io.confluent.connect.avro.AvroConverter(avroRegistry);
            avroVal = new io.confluent.connect.avro.AvroConverter(avroRegistry);
            Map<String, String> kc = sub(props, "key.converter.");
            kc.put("schema.registry.url", "http://unused.invalid");
            avroKey.configure(kc, true);
            Map<String, String> vc = sub(props, "value.converter.");
            vc.put("schema.registry.url", "http://unused.invalid");
            avroVal.configure(vc, false);
        }
        final io.confluent.connect.avro.AvroConverter aKey = avroKey, aVal = avroVal;

        ObjectMapper om = new ObjectMapper();
        PrintWriter out = new PrintWriter(args[1], StandardCharsets.UTF_8);
        AtomicLong count = new AtomicLong();
        AtomicLong last = new AtomicLong(0);
        long start = System.currentTimeMillis();

        DebeziumEngine<ChangeEvent<SourceRecord, SourceRecord>> engine = DebeziumEngine.create(Connect.class)
            .using(props)
            .notifying((ChangeEvent<SourceRecord, SourceRecord> ev) -> {
                SourceRecord r = ev.value();
                String topic = r.topic();
                byte[] k = keyConv.fromConnectData(topic, r.keySchema(), r.key());
                byte[] v = valConv.fromConnectData(topic, r.valueSchema(), r.value());
                if (aKey != null) {
                    synchronized (aKey) {
                        aKey.fromConnectData(topic, r.keySchema(), r.key());
                        aVal.fromConnectData(topic, r.valueSchema(), r.value());
                    }
                }
                ObjectNode line = om.createObjectNode();
                line.put("topic", topic);
                try {
                    line.set("key", k == null ? null : om.readTree(k));
                    line.set("value", v == null ? null : om.readTree(v));
                } catch (java.io.IOException e) { throw new RuntimeException(e); }
                ObjectNode hs = line.putObject("headers");
                org.apache.kafka.common.header.internals.RecordHeaders kh =
                    new org.apache.kafka.common.header.internals.RecordHeaders();
                for (Header h : r.headers()) {
                    byte[] b = hdrConv.fromConnectHeader(topic, h.key(), h.schema(), h.value());
                    hs.put(h.key(), b == null ? null : new String(b, StandardCharsets.UTF_8));
                    kh.add(h.key(), b);
                }
                synchronized (out) { out.println(line.toString()); out.flush(); }
                if (prod != null) prod.send(new ProducerRecord<>(topic, null, k, v, kh));
                count.incrementAndGet();
                last.set(System.currentTimeMillis());
            })
            .using((success, message, error) -> {
                System.err.println("oracle: engine stopped success=" + success + " message=" + message);
                if (error != null) error.printStackTrace();
            })
            .build();

        ExecutorService exec = Executors.newSingleThreadExecutor();
        exec.execute(engine);
        while (true) {
            Thread.sleep(100);
            long now = System.currentTimeMillis();
            if (count.get() >= maxEvents) break;
            if (last.get() > 0 && now - last.get() >= idleMs) break;
            if (now - start >= maxMs) break;
        }
        System.err.println("oracle: captured " + count.get() + " records in " + (System.currentTimeMillis() - start) + " ms");
        engine.close();
        exec.shutdown();
        exec.awaitTermination(30, TimeUnit.SECONDS);
        if (prod != null) { prod.flush(); prod.close(); }
        out.close();
        if (avroRegistry != null) {
            ObjectNode subjects = om.createObjectNode();
            java.util.List<String> names = new java.util.ArrayList<>(avroRegistry.getAllSubjects());
            java.util.Collections.sort(names);
            for (String subject : names) {
                com.fasterxml.jackson.databind.node.ArrayNode versions = subjects.putArray(subject);
                for (Integer version : avroRegistry.getAllVersions(subject)) {
                    versions.add(om.readTree(avroRegistry.getSchemaMetadata(subject, version).getSchema()));
                }
            }
            try (PrintWriter w = new PrintWriter(avroSubjects, StandardCharsets.UTF_8)) {
                w.println(om.writerWithDefaultPrettyPrinter().writeValueAsString(subjects));
            }
        }
        System.exit(0);
    }
}
