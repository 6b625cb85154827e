-- ===== setup.sql (before the slots were created) =====
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

-- ===== changes.sql (after the slots were created) =====
-- S5 changes.
INSERT INTO inventory.items VALUES ('A-1', 2, 10), ('B-2', 1, 5);
UPDATE inventory.items SET qty = 11 WHERE sku = 'A-1';
UPDATE inventory.items SET region = 3 WHERE sku = 'B-2';
DELETE FROM inventory.items WHERE sku = 'A-1';
INSERT INTO "Mixed"."CamelTable" VALUES (1, 'x');
UPDATE "Mixed"."CamelTable" SET "Value" = 'y';
INSERT INTO public."weird$name" VALUES (1, 'w');
INSERT INTO public."dash-name" VALUES (1);
INSERT INTO public.uniq_only VALUES (1, 'u');
INSERT INTO public.skipped VALUES (1);
INSERT INTO inventory.items VALUES ('Z-9', 9, 9);
