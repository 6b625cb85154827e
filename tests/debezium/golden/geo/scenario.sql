-- ===== setup.sql (before the slots were created) =====
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

-- ===== changes.sql (after the slots were created) =====
INSERT INTO shapes VALUES (1, 'a=>1, "b c"=>NULL, "q\""=>"x\\y", zz=>""', '((3,4),(1,2))', '<(1.5,-2),3.25>', '{1,-2,3.5}',
  '[(0,0),(1,1)]', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(2,0))', '((0,0),(0,1),(1,1),(1,0))', '(1e-3,-7)');
INSERT INTO shapes VALUES (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO shapes VALUES (3, '', '((0,0),(0,0))', '<(0,0),0>', '{0,1,0}', '[(1e20,-1e-20),(NaN,Infinity)]', '[(1,2)]', '((1,2))', '((1,2))', '(0,0)');
UPDATE shapes SET attrs = 'k=>v' WHERE id = 1;
DELETE FROM shapes WHERE id = 2;
