-- The README quickstart's database (as scripts/demo.sh creates it), for the compose stack.
CREATE TABLE product (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL, created_at timestamp DEFAULT now());
CREATE TABLE stock (id serial PRIMARY KEY, product_id int NOT NULL, quantity int NOT NULL, reserved_quantity int DEFAULT 0);
CREATE TABLE sale (id serial PRIMARY KEY, product_id int NOT NULL, quantity int NOT NULL, sold_at timestamptz DEFAULT now());
INSERT INTO product (name, price) VALUES ('Gizmo', 4.75);
