-- ===== setup.sql (before the slots were created) =====
-- S1 "skeleton": the ecommerce schema. Runs before the slots are created.
CREATE TABLE public.product (
  id serial PRIMARY KEY,
  name text NOT NULL,
  description text,
  price numeric(10,2) NOT NULL,
  created_at timestamp DEFAULT now()
);
CREATE TABLE public.stock (
  id serial PRIMARY KEY,
  product_id int NOT NULL,
  quantity int NOT NULL,
  reserved_quantity int DEFAULT 0,
  updated_at timestamptz DEFAULT now()
);
CREATE TABLE public.sale (
  id serial PRIMARY KEY,
  product_id int,
  quantity int,
  total numeric(12,2),
  sold_at timestamptz,
  sale_date date,
  customer uuid,
  meta jsonb
);
CREATE PUBLICATION dbz_publication FOR ALL TABLES;

-- ===== changes.sql (after the slots were created) =====
-- S1 changes, run after the slots exist (autocommit unless inside BEGIN/COMMIT).
INSERT INTO product (name, description, price, created_at) VALUES
  ('Widget', 'A small widget', 9.99, '2024-01-15 10:30:00.123456'),
  ('Gadget', NULL, 1234.50, '2024-02-01 00:00:00');
INSERT INTO product (name, price, created_at) VALUES ('Gizmo', 0.01, '2024-03-10 23:59:59.999999');
INSERT INTO stock (product_id, quantity, reserved_quantity, updated_at) VALUES
  (1, 100, 5, '2024-01-15 10:30:00.5+00'),
  (2, 20, DEFAULT, '2024-02-01 12:00:00+02');
INSERT INTO sale (product_id, quantity, total, sold_at, sale_date, customer, meta) VALUES
  (1, 3, 29.97, '2024-04-01 08:15:30.25+00', '2024-04-01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"channel": "web", "tags": ["promo", "new"], "n": 1.5}'),
  (2, 1, 1234.50, NULL, NULL, NULL, NULL);
UPDATE product SET price = 10.49, description = 'A small widget, v2' WHERE id = 1;
DELETE FROM product WHERE id = 3;
BEGIN;
  INSERT INTO sale (product_id, quantity, total, sold_at, sale_date, customer, meta)
    VALUES (1, 2, 20.98, '2024-04-02 09:00:00+00', '2024-04-02', 'b1ffcd88-8d1a-4ef8-bb6d-6bb9bd380a22', '{"channel": "store"}');
  UPDATE stock SET quantity = quantity - 2, updated_at = '2024-04-02 09:00:01+00' WHERE product_id = 1;
  DELETE FROM sale WHERE id = 2;
COMMIT;
BEGIN;
  INSERT INTO product (name, price) VALUES ('Rolled back', 1.00);
  UPDATE stock SET quantity = 0 WHERE id = 1;
ROLLBACK;
INSERT INTO product (name, description, price, created_at) VALUES ('After rollback', 'marker', 5.00, '2024-05-05 05:05:05');
