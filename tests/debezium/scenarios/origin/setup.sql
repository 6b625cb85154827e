-- S10 "origin": changes replayed under a replication origin (as a logical
-- replication subscriber or BDR-style tool applies them) carry the origin.
CREATE TABLE public.replicated (id int PRIMARY KEY, note text);
CREATE PUBLICATION dbz_publication FOR ALL TABLES;
