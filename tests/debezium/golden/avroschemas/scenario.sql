-- ===== setup.sql (before the slots were created) =====
-- "avroschemas": what Confluent's AvroConverter registers for Debezium's schemas, incl. a
-- table altered mid-stream (new subject versions). Runs before the slots are created.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE public.item (
  id int PRIMARY KEY,
  name text NOT NULL,
  qty int2 NOT NULL DEFAULT 7,
  price numeric(10,2),
  ratio numeric,
  weight float4,
  score float8 DEFAULT 1.5,
  flag boolean NOT NULL DEFAULT false,
  code char(3) DEFAULT 'x',
  born date,
  at_time time,
  created timestamp DEFAULT '2020-01-01 00:00:00',
  updated timestamptz,
  span interval,
  ref uuid,
  doc jsonb,
  raw bytea,
  cost money,
  bits bit(3),
  one_bit bit(1),
  feeling mood DEFAULT 'ok',
  tags text[],
  nums int[]
);
CREATE TABLE public.note (
  id bigint PRIMARY KEY,
  body varchar(200)
);
CREATE PUBLICATION dbz_publication FOR ALL TABLES;

-- ===== changes.sql (after the slots were created) =====
-- Inserts, an update, a delete; then both tables change shape and change again.
INSERT INTO item VALUES (1, 'first', 3, 12.34, 1.5, 0.25, 2.5, true, 'abc', '2024-01-02', '10:11:12.5',
  '2024-01-02 03:04:05.678901', '2024-01-02 03:04:05+02', '1 day 2 hours', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{"k": [1, 2]}', '\x00ff10', 12.5, B'101', B'1', 'happy', '{a,b}', '{1,2,3}');
INSERT INTO item (id, name) VALUES (2, 'defaults');
INSERT INTO note VALUES (10, 'hello');
UPDATE item SET price = -0.01, ratio = 123.456789 WHERE id = 1;
DELETE FROM item WHERE id = 2;
ALTER TABLE item ADD COLUMN extra bigint DEFAULT 5;
ALTER TABLE note ALTER COLUMN body TYPE text;
INSERT INTO item (id, name, extra) VALUES (3, 'after alter', 42);
INSERT INTO note VALUES (11, 'world');
ALTER TABLE item DROP COLUMN extra;
UPDATE item SET name = 'dropped extra' WHERE id = 3;
