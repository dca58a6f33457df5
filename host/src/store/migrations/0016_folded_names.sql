-- Company names compared ignoring case in every script: `École` and `école`, `Ärzte` and
-- `ärzte` are one name. SQLite's NOCASE folds ASCII letters only, so each company keeps its
-- name folded (Unicode case folding, the `cs_fold` function the store registers), written with
-- the name, and look-ups by name (company, partner, import) use it through this index.
ALTER TABLE companies ADD COLUMN name_folded TEXT;
UPDATE companies SET name_folded = cs_fold(name);
CREATE INDEX companies_name_folded ON companies (tenant_id, name_folded);
