-- ===== setup.sql (before the slots were created) =====
-- "columns": column filters, masking, truncation, hashing and message.key.columns.
-- Runs before the slots are created.
CREATE TABLE public.people (
    id int PRIMARY KEY,
    code varchar(8),
    name text,
    email varchar(64),
    secret text,
    note text,
    age int
);
CREATE TABLE public.orders (order_no int PRIMARY KEY, region text NOT NULL, item text, qty int);
ALTER TABLE public.orders REPLICA IDENTITY FULL;
CREATE PUBLICATION dbz_publication FOR ALL TABLES;

-- ===== changes.sql (after the slots were created) =====
INSERT INTO people VALUES (1, 'AB12', 'Alice Liddell', 'alice@example.com', 's3cret', 'a long note that will be truncated', 30);
INSERT INTO people VALUES (2, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO people VALUES (3, 'üñí', 'Ünïcödé 名前', 'x@y.z', 'ß€𝄞', 'short', 5);
INSERT INTO people VALUES (4, '', '', '', '', '', 0);
UPDATE people SET note = 'changed note, also long enough', age = 31 WHERE id = 1;
DELETE FROM people WHERE id = 2;
INSERT INTO orders VALUES (10, 'eu', 'widget', 3);
UPDATE orders SET qty = 4 WHERE order_no = 10;
UPDATE orders SET region = 'us' WHERE order_no = 10;
DELETE FROM orders WHERE order_no = 10;
