-- S4 "streaming": schema changes between DMLs, rolled-back work, savepoints, message filters.
-- Runs before the slots are created.
CREATE TABLE public.evolve (id int PRIMARY KEY, a text);
CREATE TABLE public.other (id int PRIMARY KEY, v int);
CREATE PUBLICATION dbz_publication FOR ALL TABLES;
