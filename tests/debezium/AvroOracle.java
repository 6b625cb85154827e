import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.confluent.connect.avro.AvroConverter;
import io.confluent.connect.avro.AvroData;
import io.confluent.connect.avro.AvroDataConfig;
import java.io.BufferedReader;
import java.io.FileReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.json.JsonConverter;

/**
 * Avro oracle: reads records captured from Debezium with JsonConverter (schemas enabled, one JSON
 * line per record: {"topic","key","value",...}), rebuilds each Connect schema and value with
 * JsonConverter.toConnectData, and writes what Confluent's AvroConverter 7.0 makes of them:
 * the Avro schema (AvroData.fromConnectSchema, as the converter registers it) and the Avro
 * binary body (AvroConverter.fromConnectData against an in-process MockSchemaRegistryClient, the 5-byte
 * wire header stripped), one JSON line per record:
 * {"topic","key_schema","key_avro","value_schema","value_avro"} (schemas as parsed JSON, bodies
 * as hex; a schema equal to the previous one of the same topic and side is written as null).
 *
 * Usage: AvroOracle IN.jsonl OUT.jsonl [converter.prop=value ...]
 * (e.g. connect.meta.data=false, scrub.invalid.names=true).
 */
public final class AvroOracle {
    public static void main(String[] args) throws Exception {
        Map<String, Object> conf = new HashMap<>();
        conf.put("schema.registry.url", "http://unused.invalid");
        for (int i = 2; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            conf.put(kv[0], kv[1]);
        }
        AvroData avroData = new AvroData(new AvroDataConfig(conf));
        io.confluent.kafka.schemaregistry.client.MockSchemaRegistryClient registry =
            new io.confluent.kafka.schemaregistry.client.MockSchemaRegistryClient();
        AvroConverter keyConv = new AvroConverter(registry);
        keyConv.configure(conf, true);
        AvroConverter valConv = new AvroConverter(registry);
        valConv.configure(conf, false);
        JsonConverter json = new JsonConverter();
        Map<String, Object> jconf = new HashMap<>();
        jconf.put("schemas.enable", "true");
        json.configure(jconf, false);

        ObjectMapper om = new ObjectMapper();
        Map<String, String> last = new HashMap<>();
        try (BufferedReader in = new BufferedReader(new FileReader(args[0], StandardCharsets.UTF_8));
             PrintWriter out = new PrintWriter(args[1], StandardCharsets.UTF_8)) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) continue;
                JsonNode rec = om.readTree(line);
                String topic = rec.get("topic").asText();
                ObjectNode o = om.createObjectNode();
                o.put("topic", topic);
                for (String side : new String[] {"key", "value"}) {
                    JsonNode node = rec.get(side);
                    if (node == null || node.isNull()) {
                        o.putNull(side + "_schema");
                        o.putNull(side + "_avro");
                        continue;
                    }
                    if (!node.has("schema") || !node.has("payload")) {
                        System.err.println("avro-oracle: " + args[0] + " was not captured with schemas.enable=true");
                        System.exit(3);
                    }
                    byte[] bytes = om.writeValueAsBytes(node);
                    SchemaAndValue sv = json.toConnectData(topic, bytes);
                    String schema = avroData.fromConnectSchema(sv.schema()).toString();
                    String k = topic + "/" + side;
                    if (schema.equals(last.get(k))) {
                        o.putNull(side + "_schema");
                    } else {
                        o.set(side + "_schema", om.readTree(schema));
                        last.put(k, schema);
                    }
                    AvroConverter conv = side.equals("key") ? keyConv : valConv;
                    byte[] avro = conv.fromConnectData(topic, sv.schema(), sv.value());
                    if (avro == null) {
                        o.putNull(side + "_avro");
                        continue;
                    }
                    StringBuilder hex = new StringBuilder();
                    for (int i = 5; i < avro.length; i++) hex.append(String.format("%02x", avro[i]));
                    o.put(side + "_avro", hex.toString());
                }
                out.println(o.toString());
            }
        }
    }
}
