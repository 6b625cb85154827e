import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.confluent.connect.avro.AvroConverter;
import io.confluent.kafka.schemaregistry.avro.AvroSchema;
import io.confluent.kafka.schemaregistry.client.CachedSchemaRegistryClient;
import io.confluent.kafka.schemaregistry.client.rest.exceptions.RestClientException;
import java.io.BufferedReader;
import java.io.FileReader;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.json.JsonConverter;

/**
 * Drives a schema registry with Confluent's Java client 7.0 (CachedSchemaRegistryClient, and
 * AvroConverter over real HTTP), as Kafka Connect workers use it, and checks its answers.
 *
 * Usage: RegistryCheck URL CAPTURE.jsonl
 * Registers, reads back and checks two schemas; then every record of CAPTURE (Debezium's
 * JsonConverter output with schemas) goes through AvroConverter.fromConnectData (registering its
 * schemas) and back through AvroConverter.toConnectData (fetching them by id), and must come back
 * with the same JsonConverter payload. Prints "ok: ..." lines and "registry-java-check: passed"; exits 1 at the first failure.
 */
public final class RegistryCheck {
    static void expect(boolean cond, String what) {
        if (!cond) { System.out.println("FAILED: " + what); System.exit(1); }
        System.out.println("ok: " + what);
    }

    public static void main(String[] args) throws Exception {
        String url = args[0];
        CachedSchemaRegistryClient client = new CachedSchemaRegistryClient(url, 100);
        AvroSchema v1 = new AvroSchema("{\"type\":\"record\",\"name\":\"V\",\"namespace\":\"java.check\",\"fields\":[{\"name\":\"id\",\"type\":\"int\"}]}");
        AvroSchema v2 = new AvroSchema("{\"type\":\"record\",\"name\":\"V\",\"namespace\":\"java.check\",\"fields\":[{\"name\":\"id\",\"type\":\"int\"},{\"name\":\"x\",\"type\":[\"null\",\"long\"],\"default\":null}]}");
        AvroSchema bad = new AvroSchema("{\"type\":\"record\",\"name\":\"V\",\"namespace\":\"java.check\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"}]}");
        int id1 = client.register("java.check-value", v1);
        int id2 = client.register("java.check-value", v2);
        expect(id1 != id2, "two versions, two ids");
        expect(client.getSchemaById(id1).equals(v1), "getSchemaById gives the schema back");
        expect(client.getLatestSchemaMetadata("java.check-value").getVersion() == 2, "latest is version 2");
        expect(client.getVersion("java.check-value", v1) == 1, "lookup gives version 1");
        expect(client.getAllSubjects().contains("java.check-value"), "subjects listed");
        try {
            client.register("java.check-value", bad);
            expect(false, "an incompatible schema is refused");
        } catch (RestClientException e) {
            expect(e.getStatus() == 409 && e.getErrorCode() == 409, "an incompatible schema is refused with 409: " + e.getMessage());
        }

        Map<String, Object> conf = new HashMap<>();
        conf.put("schema.registry.url", url);
        AvroConverter keyConv = new AvroConverter();
        keyConv.configure(conf, true);
        AvroConverter valConv = new AvroConverter();
        valConv.configure(conf, false);
        JsonConverter json = new JsonConverter();
        Map<String, Object> jconf = new HashMap<>();
        jconf.put("schemas.enable", "true");
        json.configure(jconf, false);
        ObjectMapper om = new ObjectMapper();
        int records = 0;
        try (BufferedReader in = new BufferedReader(new FileReader(args[1], StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.isBlank()) continue;
                JsonNode rec = om.readTree(line);
                String topic = rec.get("topic").asText();
                for (String side : new String[] {"key", "value"}) {
                    JsonNode node = rec.get(side);
                    if (node == null || node.isNull()) continue;
                    SchemaAndValue sv = json.toConnectData(topic, om.writeValueAsBytes(node));
                    AvroConverter conv = side.equals("key") ? keyConv : valConv;
                    byte[] avro = conv.fromConnectData(topic, sv.schema(), sv.value());
                    if (avro == null) continue;
                    SchemaAndValue back = conv.toConnectData(topic, avro);
                    // Compared as JsonConverter payloads: the schema read back from Avro is
                    // AvroData's rebuild, equal in content but not as a Java object.
                    JsonNode again = om.readTree(json.fromConnectData(topic, back.schema(), back.value())).get("payload");
                    if (!again.equals(node.get("payload"))) {
                        expect(false, topic + " " + side + " round trip: " + again + " != " + node.get("payload"));
                    }
                    records++;
                }
            }
        }
        expect(records > 0, records + " keys and values through AvroConverter and back");
        System.out.println("registry-java-check: passed");
    }
}
