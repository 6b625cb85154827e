-- ===== setup.sql (before the slots were created) =====
-- S4 "streaming": schema changes between DMLs, rolled-back work, savepoints, message filters.
-- Runs before the slots are created.
CREATE TABLE public.evolve (id int PRIMARY KEY, a text);
CREATE TABLE public.other (id int PRIMARY KEY, v int);
CREATE PUBLICATION dbz_publication FOR ALL TABLES;

-- ===== changes.sql (after the slots were created) =====
-- S4 changes.
INSERT INTO evolve VALUES (1, 'one');
ALTER TABLE evolve ADD COLUMN b int DEFAULT 5;
INSERT INTO evolve VALUES (2, 'two', 2);
UPDATE evolve SET a = 'one-upd' WHERE id = 1;
ALTER TABLE evolve ADD COLUMN c varchar(20) NOT NULL DEFAULT 'x';
INSERT INTO evolve VALUES (3, 'three', 3, 'c3');
ALTER TABLE evolve DROP COLUMN a;
INSERT INTO evolve VALUES (4, 4, 'c4');
ALTER TABLE evolve ALTER COLUMN b TYPE bigint;
UPDATE evolve SET b = 40 WHERE id = 4;
DELETE FROM evolve WHERE id = 2;
-- DDL and DML in one transaction
BEGIN;
  ALTER TABLE evolve ADD COLUMN d numeric(5,2);
  INSERT INTO evolve (id, b, c, d) VALUES (5, 5, 'c5', 1.25);
COMMIT;
-- a rolled-back schema change with rows
BEGIN;
  ALTER TABLE evolve ADD COLUMN never int;
  INSERT INTO evolve (id, b, c) VALUES (6, 6, 'c6');
ROLLBACK;
-- savepoints, messages and several tables in one transaction
BEGIN;
  INSERT INTO other VALUES (1, 1);
  SAVEPOINT s1;
  INSERT INTO other VALUES (2, 2);
  ROLLBACK TO SAVEPOINT s1;
  INSERT INTO other VALUES (3, 3);
  SELECT pg_logical_emit_message(true, 'keep.tx', 'kept');
  SELECT pg_logical_emit_message(true, 'drop.tx', 'dropped');
  UPDATE other SET v = 30 WHERE id = 3;
  UPDATE evolve SET c = 'c5-upd' WHERE id = 5;
  DELETE FROM other WHERE id = 1;
COMMIT;
SELECT pg_logical_emit_message(false, 'keep.nt', 'kept too');
SELECT pg_logical_emit_message(false, 'drop.nt', 'dropped too');
-- a renamed column
ALTER TABLE other RENAME COLUMN v TO w;
INSERT INTO other VALUES (4, 4);
INSERT INTO evolve (id, b, c) VALUES (7, 7, 'last row marker');
