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
