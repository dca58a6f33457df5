-- Relationship and relationship type names compared ignoring case in every script, as company
-- names are (0016): `Ärzte` and `ärzte` are one name. Each keeps its name folded (`cs_fold`),
-- written with the name; the natural key of a relationship import (company, type, name) and
-- the look-up of a type by name use it through these indexes.
ALTER TABLE relationships ADD COLUMN name_folded TEXT;
UPDATE relationships SET name_folded = cs_fold(name);
CREATE INDEX relationships_natural_key
    ON relationships (tenant_id, company_id, type_id, name_folded);
ALTER TABLE relationship_types ADD COLUMN name_folded TEXT;
UPDATE relationship_types SET name_folded = cs_fold(name);
CREATE INDEX relationship_types_name_folded ON relationship_types (tenant_id, name_folded);
