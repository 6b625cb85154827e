-- ===== required columns' fallbacks in a delete's before (REPLICA IDENTITY DEFAULT)
INSERT INTO fallbacks VALUES (1, '2024-01-01 00:00:00+00', '12:00:00+02', 1.5, 2.25, '(1,2)', '1 day', 'x', '2024-01-01', '2024-05-05 05:05:05.5+00');
DELETE FROM fallbacks WHERE id = 1;
-- ===== array elements: six fraction digits, micro precision, the array's numeric modifier, timetz[] in whole seconds
INSERT INTO arrays VALUES (1, '{"2024-01-01 00:00:00+00","2024-01-01 00:00:00.5+02"}', '{"2024-01-01 00:00:00","2024-01-01 00:00:00.123456"}',
  '{00:00:01,12:30:00.5}', '{12:30:00.5-02}', '{1.50,-0.25}', '{1.5,100}', '{"2024-01-01 00:00:00"}');
-- ===== a column dropped after the row was written: decoded with the catalog ahead of the WAL
ALTER TABLE arrays DROP COLUMN dropped;
INSERT INTO arrays (id) VALUES (2);
-- ===== name values are null when streamed; tsvector's schema name
INSERT INTO names VALUES (1, 'pg_name', 'req', 'a fat cat');
