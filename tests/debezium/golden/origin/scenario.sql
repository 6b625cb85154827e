-- ===== setup.sql (before the slots were created) =====
-- S10 "origin": changes replayed under a replication origin (as a logical
-- replication subscriber or BDR-style tool applies them) carry the origin.
CREATE TABLE public.replicated (id int PRIMARY KEY, note text);
CREATE PUBLICATION dbz_publication FOR ALL TABLES;

-- ===== changes.sql (after the slots were created) =====
-- S10 changes (one session): a local change, a transaction under the
-- replication origin upstream_a, a local change again.
INSERT INTO replicated VALUES (1, 'local');
SELECT pg_replication_origin_create('upstream_a') WHERE NOT EXISTS (SELECT 1 FROM pg_replication_origin WHERE roname = 'upstream_a');
SELECT pg_replication_origin_session_setup('upstream_a');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/AB12CD', '2024-06-01 12:00:00+00');
INSERT INTO replicated VALUES (2, 'from upstream');
UPDATE replicated SET note = 'changed upstream' WHERE id = 1;
COMMIT;
SELECT pg_replication_origin_session_reset();
INSERT INTO replicated VALUES (3, 'local again');
