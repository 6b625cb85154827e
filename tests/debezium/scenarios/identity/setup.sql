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
