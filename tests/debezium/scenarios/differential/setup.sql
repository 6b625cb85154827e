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
