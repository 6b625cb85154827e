INSERT INTO shapes VALUES (1, 'a=>1, "b c"=>NULL, "q\""=>"x\\y", zz=>""', '((3,4),(1,2))', '<(1.5,-2),3.25>', '{1,-2,3.5}',
  '[(0,0),(1,1)]', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(2,0))', '((0,0),(0,1),(1,1),(1,0))', '(1e-3,-7)');
INSERT INTO shapes VALUES (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO shapes VALUES (3, '', '((0,0),(0,0))', '<(0,0),0>', '{0,1,0}', '[(1e20,-1e-20),(NaN,Infinity)]', '[(1,2)]', '((1,2))', '((1,2))', '(0,0)');
UPDATE shapes SET attrs = 'k=>v' WHERE id = 1;
DELETE FROM shapes WHERE id = 2;
