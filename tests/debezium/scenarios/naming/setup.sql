-- S5 "naming": schemas, quoted and odd names, composite and non-first keys, no PK with a
-- unique index, table/schema filters. Runs before the slots are created.
CREATE SCHEMA inventory;
CREATE SCHEMA "Mixed";
CREATE TABLE inventory.items (sku text, region int, qty int, PRIMARY KEY (region, sku));
CREATE TABLE "Mixed"."CamelTable" ("Id" int PRIMARY KEY, "Value" text);
CREATE TABLE public."weird$name" (id int PRIMARY KEY, v text);
CREATE TABLE public."dash-name" (id int PRIMARY KEY);
CREATE TABLE public.uniq_only (a int NOT NULL, b text, UNIQUE (a));
CREATE TABLE public.skipped (id int PRIMARY KEY);
CREATE PUBLICATION dbz_publication FOR ALL TABLES;
