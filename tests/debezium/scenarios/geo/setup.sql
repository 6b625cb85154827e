-- "geo": hstore (both hstore.handling.mode values) and the geometric types other than point.
-- Runs before the slots are created.
CREATE EXTENSION IF NOT EXISTS hstore;
CREATE TABLE public.shapes (
    id int PRIMARY KEY,
    attrs hstore,
    b box,
    c circle,
    l line,
    s lseg,
    p path,
    pc path,
    pg polygon,
    pt point
);
CREATE PUBLICATION dbz_publication FOR ALL TABLES;
