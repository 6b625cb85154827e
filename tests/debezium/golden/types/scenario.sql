-- ===== setup.sql (before the slots were created) =====
-- S2 "types": one table with many column types. Runs before the slots are created.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE public.all_types (
  id int PRIMARY KEY,
  c_bool boolean,
  c_int2 int2,
  c_int4 int4,
  c_int8 int8,
  c_float4 float4,
  c_float8 float8,
  c_numeric_10_2 numeric(10,2),
  c_numeric numeric,
  c_text text,
  c_varchar varchar(10),
  c_char char(5),
  c_date date,
  c_time time,
  c_time3 time(3),
  c_timetz timetz,
  c_timestamp timestamp,
  c_timestamp3 timestamp(3),
  c_timestamptz timestamptz,
  c_interval interval,
  c_uuid uuid,
  c_json json,
  c_jsonb jsonb,
  c_bytea bytea,
  c_money money,
  c_bit1 bit(1),
  c_bit3 bit(3),
  c_varbit varbit,
  c_int4_arr int4[],
  c_text_arr text[],
  c_enum mood,
  c_inet inet,
  c_cidr cidr,
  c_macaddr macaddr,
  c_xml xml,
  c_point point,
  c_int4range int4range,
  c_tsrange tsrange
);
CREATE PUBLICATION dbz_publication FOR ALL TABLES;

-- ===== changes.sql (after the slots were created) =====
-- S2 changes: a typical row, a NULL row, an edge row, then rows with special numerics.
SET TIME ZONE 'UTC';
INSERT INTO all_types VALUES (
  1, true, 12345, 123456789, 1234567890123, 3.14, 2.718281828459045, 12345.67, 123.456,
  'hello wörld', 'varchar', 'ab', '2024-02-29', '13:45:30.123456', '13:45:30.123456',
  '13:45:30.5+02', '2024-02-29 13:45:30.123456', '2024-02-29 13:45:30.123456',
  '2024-02-29 13:45:30.123456+02', '1 year 2 mons 3 days 04:05:06.789',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": 1, "b": [true, null]}', '{"b": [true, null], "a": 1}',
  '\xdeadbeef00', 1234.56, B'1', B'101', B'1101011', '{1,2,NULL,4}', '{"a","b c",NULL,"d\"e"}',
  'happy', '192.168.1.10/24', '10.0.0.0/8', '08:00:2b:01:02:03', '<a x="1">text</a>',
  '(1.5,-2.25)', '[1,10)', '[2024-01-01 00:00,2024-12-31 23:59:59.5)');
INSERT INTO all_types (id) VALUES (2);
INSERT INTO all_types VALUES (
  3, false, -32768, -2147483648, 9223372036854775807, '-Infinity', 'Infinity', -99999999.99,
  '-0.000000000000000000001', '', '', '', 'infinity', '00:00:00', '23:59:59.999',
  '00:00:00+14', 'infinity', '-infinity', 'infinity', '-178000000 years',
  '00000000-0000-0000-0000-000000000000', '[]', '{}', '', -92233720368547758.08, B'0', B'000', B'',
  '{}', '{}', 'sad', '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '', '(0,0)', 'empty', '(,)');
INSERT INTO all_types (id, c_date, c_timestamp, c_timestamptz, c_numeric, c_float4, c_float8, c_int8, c_time)
  VALUES (4, '0001-01-01 BC', '4713-01-01 00:00:00 BC', '1970-01-01 00:00:00.000001+00', '1e-30', 'NaN', 'NaN', -9223372036854775808, '24:00:00');
INSERT INTO all_types (id, c_numeric_10_2) VALUES (5, 'NaN');
INSERT INTO all_types (id, c_numeric) VALUES (6, 'NaN');
INSERT INTO all_types (id, c_numeric) VALUES (7, 'Infinity');
INSERT INTO all_types (id, c_text) VALUES (8, 'last row marker');
