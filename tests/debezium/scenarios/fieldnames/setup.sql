-- "fieldnames": column names Avro refuses (a dash, a leading digit, a non-ASCII letter, a dot,
-- an underscore, a space), in the key and in the value. Runs before the slots are created.
CREATE TABLE public.odd_cols ("my-col" int, "1st" text, "naïve" text, "a.b" int, "_u" text, "x y" text,
  PRIMARY KEY ("my-col", "1st"));
-- A table name Avro refuses in schema names (schema.name.adjustment.mode).
CREATE TABLE public."dash-t" (id int PRIMARY KEY, v text);
CREATE PUBLICATION dbz_publication FOR ALL TABLES;
