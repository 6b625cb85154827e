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
