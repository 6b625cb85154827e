-- Inserts, an update, a delete; then both tables change shape and change again.
INSERT INTO item VALUES (1, 'first', 3, 12.34, 1.5, 0.25, 2.5, true, 'abc', '2024-01-02', '10:11:12.5',
  '2024-01-02 03:04:05.678901', '2024-01-02 03:04:05+02', '1 day 2 hours', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{"k": [1, 2]}', '\x00ff10', 12.5, B'101', B'1', 'happy', '{a,b}', '{1,2,3}');
INSERT INTO item (id, name) VALUES (2, 'defaults');
INSERT INTO note VALUES (10, 'hello');
UPDATE item SET price = -0.01, ratio = 123.456789 WHERE id = 1;
DELETE FROM item WHERE id = 2;
ALTER TABLE item ADD COLUMN extra bigint DEFAULT 5;
ALTER TABLE note ALTER COLUMN body TYPE text;
INSERT INTO item (id, name, extra) VALUES (3, 'after alter', 42);
INSERT INTO note VALUES (11, 'world');
ALTER TABLE item DROP COLUMN extra;
UPDATE item SET name = 'dropped extra' WHERE id = 3;
