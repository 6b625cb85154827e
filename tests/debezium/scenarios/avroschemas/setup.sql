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
