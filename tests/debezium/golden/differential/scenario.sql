-- ===== setup.sql (before the slots were created) =====
-- "differential": the differences the randomized differential test (tests/e2e_differential.rs)
-- found between pgcdc and Debezium 3.6.3, shrunk by hand. Runs before the slots are created.
CREATE TABLE public.fallbacks (
  id int PRIMARY KEY,
  at timestamptz NOT NULL,
  t timetz NOT NULL,
  n numeric NOT NULL,
  n2 numeric(10,2) NOT NULL,
  p point NOT NULL,
  iv interval NOT NULL,
  s text NOT NULL,
  d date NOT NULL DEFAULT '2020-01-01',
  opt timestamptz
);
CREATE TABLE public.arrays (
  id int PRIMARY KEY,
  tstz timestamptz[],
  ts timestamp[],
  tm time[],
  tz timetz[],
  nums numeric(10,2)[],
  anynum numeric[],
  dropped timestamp[]
);
CREATE TABLE public.names (
  id int PRIMARY KEY,
  nm name,
  nm_req name NOT NULL,
  tsv tsvector
);
CREATE PUBLICATION dbz_publication FOR ALL TABLES;

-- ===== changes.sql (after the slots were created) =====
-- ===== required columns' fallbacks in a delete's before (REPLICA IDENTITY DEFAULT)
INSERT INTO fallbacks VALUES (1, '2024-01-01 00:00:00+00', '12:00:00+02', 1.5, 2.25, '(1,2)', '1 day', 'x', '2024-01-01', '2024-05-05 05:05:05.5+00');
DELETE FROM fallbacks WHERE id = 1;
-- ===== array elements: six fraction digits, micro precision, the array's numeric modifier, timetz[] in whole seconds
INSERT INTO arrays VALUES (1, '{"2024-01-01 00:00:00+00","2024-01-01 00:00:00.5+02"}', '{"2024-01-01 00:00:00","2024-01-01 00:00:00.123456"}',
  '{00:00:01,12:30:00.5}', '{12:30:00.5-02}', '{1.50,-0.25}', '{1.5,100}', '{"2024-01-01 00:00:00"}');
-- ===== a column dropped after the row was written: decoded with the catalog ahead of the WAL
ALTER TABLE arrays DROP COLUMN dropped;
INSERT INTO arrays (id) VALUES (2);
-- ===== name values are null when streamed; tsvector's schema name
INSERT INTO names VALUES (1, 'pg_name', 'req', 'a fat cat');
