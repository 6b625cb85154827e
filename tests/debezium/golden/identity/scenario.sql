-- ===== setup.sql (before the slots were created) =====
-- S3 "identity": replica identities, key changes, TOAST, TRUNCATE, logical messages.
CREATE TABLE id_default (id int PRIMARY KEY, val text, n int NOT NULL DEFAULT 7);
CREATE TABLE id_full (id int PRIMARY KEY, val text, n int NOT NULL DEFAULT 7);
ALTER TABLE id_full REPLICA IDENTITY FULL;
CREATE TABLE id_nothing (id int PRIMARY KEY, val text);
ALTER TABLE id_nothing REPLICA IDENTITY NOTHING;
CREATE TABLE id_index (id int PRIMARY KEY, code text NOT NULL, val text);
CREATE UNIQUE INDEX id_index_code ON id_index (code);
ALTER TABLE id_index REPLICA IDENTITY USING INDEX id_index_code;
CREATE TABLE nopk_full (a int, b text);
ALTER TABLE nopk_full REPLICA IDENTITY FULL;
CREATE TABLE nopk_default (a int, b text);
CREATE TABLE toasty (id int PRIMARY KEY, big text, n int);
ALTER TABLE toasty ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE toasty_full (id int PRIMARY KEY, big text, n int);
ALTER TABLE toasty_full ALTER COLUMN big SET STORAGE EXTERNAL;
ALTER TABLE toasty_full REPLICA IDENTITY FULL;
CREATE PUBLICATION dbz_publication FOR ALL TABLES;

-- ===== changes.sql (after the slots were created) =====
-- S3 changes.
INSERT INTO id_default VALUES (1, 'one', 1), (2, 'two', 2);
UPDATE id_default SET val = 'one-upd' WHERE id = 1;
DELETE FROM id_default WHERE id = 2;
-- primary key change: Debezium emits delete(old key) [+ tombstone] + create(new key)
UPDATE id_default SET id = 100, val = 'moved' WHERE id = 1;

INSERT INTO id_full VALUES (1, 'one', 1), (2, 'two', 2);
UPDATE id_full SET val = 'one-upd' WHERE id = 1;
DELETE FROM id_full WHERE id = 2;
UPDATE id_full SET id = 100 WHERE id = 1;

-- REPLICA IDENTITY NOTHING: inserts flow; UPDATE/DELETE are refused by PostgreSQL itself
-- ("cannot update table ... because it does not have a replica identity and publishes updates").
INSERT INTO id_nothing VALUES (1, 'one');
DO $$ BEGIN UPDATE id_nothing SET val = 'x' WHERE id = 1;
  EXCEPTION WHEN others THEN RAISE NOTICE 'id_nothing update refused: %', SQLERRM; END $$;
DO $$ BEGIN DELETE FROM id_nothing WHERE id = 1;
  EXCEPTION WHEN others THEN RAISE NOTICE 'id_nothing delete refused: %', SQLERRM; END $$;

INSERT INTO id_index VALUES (1, 'c1', 'one'), (2, 'c2', 'two');
UPDATE id_index SET val = 'one-upd' WHERE id = 1;
UPDATE id_index SET code = 'c1-new' WHERE id = 1;
DELETE FROM id_index WHERE id = 2;

INSERT INTO nopk_full VALUES (1, 'a'), (2, 'b');
UPDATE nopk_full SET b = 'a-upd' WHERE a = 1;
DELETE FROM nopk_full WHERE a = 2;
INSERT INTO nopk_default VALUES (1, 'a');

-- TOAST: big is stored out of line (SET STORAGE EXTERNAL, ~6.4 KB); updating n leaves it unchanged
INSERT INTO toasty VALUES (1, (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) i), 1);
UPDATE toasty SET n = 2 WHERE id = 1;
UPDATE toasty SET big = 'small now', n = 3 WHERE id = 1;
INSERT INTO toasty_full VALUES (1, (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) i), 1);
UPDATE toasty_full SET n = 2 WHERE id = 1;
DELETE FROM toasty_full WHERE id = 1;

-- logical decoding messages: transactional (inside a txn with a change) and non-transactional
BEGIN;
  INSERT INTO id_default VALUES (3, 'three', 3);
  SELECT pg_logical_emit_message(true, 'txprefix', 'transactional content');
  SELECT pg_logical_emit_message(true, 'binprefix', '\x00ff10'::bytea);
COMMIT;
SELECT pg_logical_emit_message(false, 'ntprefix', 'non-transactional content');

-- TRUNCATE (only emitted with skipped.operations=none)
TRUNCATE id_full;
TRUNCATE id_index, nopk_full;

-- a multi-table transaction (for provide.transaction.metadata)
BEGIN;
  INSERT INTO id_default VALUES (4, 'four', 4);
  INSERT INTO id_full VALUES (4, 'four', 4);
  UPDATE id_default SET val = 'four-upd' WHERE id = 4;
COMMIT;
INSERT INTO id_default VALUES (5, 'last row marker', 5);
