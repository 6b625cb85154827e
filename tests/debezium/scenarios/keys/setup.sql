-- "keys": column masking/truncation/hashing of primary-key columns, and topic routers
-- (RegexRouter, ByLogicalTableRouter) merging two tables into one topic.
-- Runs before the slots are created.
CREATE TABLE public.tags (code varchar(16) PRIMARY KEY, label text, secret text);
CREATE TABLE public.customers_1 (id int PRIMARY KEY, name text);
CREATE TABLE public.customers_2 (id int PRIMARY KEY, name text);
CREATE PUBLICATION dbz_publication FOR ALL TABLES;
