-- "fieldnames" changes.
INSERT INTO public.odd_cols VALUES (1, 'one', 'n', 2, 'u', 'xy');
UPDATE public.odd_cols SET "naïve" = 'm' WHERE "my-col" = 1;
DELETE FROM public.odd_cols WHERE "my-col" = 1;
INSERT INTO public."dash-t" VALUES (1, 'd');
