-- ===== setup.sql (before the slots were created) =====
-- "keys": column masking/truncation/hashing of primary-key columns, and topic routers
-- (RegexRouter, ByLogicalTableRouter) merging two tables into one topic.
-- Runs before the slots are created.
CREATE TABLE public.tags (code varchar(16) PRIMARY KEY, label text, secret text);
CREATE TABLE public.customers_1 (id int PRIMARY KEY, name text);
CREATE TABLE public.customers_2 (id int PRIMARY KEY, name text);
CREATE PUBLICATION dbz_publication FOR ALL TABLES;

-- ===== changes.sql (after the slots were created) =====
INSERT INTO tags VALUES ('alpha-long-code', 'Alpha label', 's1'), ('b', 'B', NULL);
UPDATE tags SET label = 'Alpha relabelled' WHERE code = 'alpha-long-code';
-- a key change: delete (old key) + tombstone + create (new key)
UPDATE tags SET code = 'gamma' WHERE code = 'b';
DELETE FROM tags WHERE code = 'alpha-long-code';
INSERT INTO customers_1 VALUES (1, 'one in shard 1');
INSERT INTO customers_2 VALUES (1, 'one in shard 2');
UPDATE customers_2 SET name = 'renamed' WHERE id = 1;
DELETE FROM customers_1 WHERE id = 1;
