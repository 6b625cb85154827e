-- "columns": column filters, masking, truncation, hashing and message.key.columns.
-- Runs before the slots are created.
CREATE TABLE public.people (
    id int PRIMARY KEY,
    code varchar(8),
    name text,
    email varchar(64),
    secret text,
    note text,
    age int
);
CREATE TABLE public.orders (order_no int PRIMARY KEY, region text NOT NULL, item text, qty int);
ALTER TABLE public.orders REPLICA IDENTITY FULL;
CREATE PUBLICATION dbz_publication FOR ALL TABLES;
