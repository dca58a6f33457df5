-- Relationships as records of their own: an import key (external id), the time of the last
-- change, and the checks Managed By has on companies (the manager is a partner company; the
-- one-partner trigger of 0004 already refuses a swap). A relationship's standard and
-- type-specific field values live in its `custom` JSON; a relationship type's own fields are
-- rows of `field_schema` whose object is `relationship_type:<type id>`.
ALTER TABLE relationships ADD COLUMN external_id TEXT;
ALTER TABLE relationships ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX relationships_external_id ON relationships (tenant_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX relationships_name ON relationships (tenant_id, name COLLATE NOCASE);
CREATE INDEX relationships_managed_by ON relationships (tenant_id, managed_by)
    WHERE managed_by IS NOT NULL;

CREATE TRIGGER relationships_manager_is_partner_insert BEFORE INSERT ON relationships
WHEN NEW.managed_by IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM companies p
    WHERE p.tenant_id = NEW.tenant_id AND p.id = NEW.managed_by AND p.managed_as = 'partner')
BEGIN
    SELECT RAISE(ABORT, 'one-partner rule: managed_by must name a partner company');
END;

CREATE TRIGGER relationships_manager_is_partner_update BEFORE UPDATE OF managed_by ON relationships
WHEN NEW.managed_by IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM companies p
    WHERE p.tenant_id = NEW.tenant_id AND p.id = NEW.managed_by AND p.managed_as = 'partner')
BEGIN
    SELECT RAISE(ABORT, 'one-partner rule: managed_by must name a partner company');
END;

-- A CTA can be about one relationship of its company. ALTER TABLE cannot add the composite
-- foreign key the other references have, so triggers keep the relationship in the CTA's tenant
-- and company.
ALTER TABLE ctas ADD COLUMN relationship_id INTEGER REFERENCES relationships (id);
CREATE INDEX ctas_relationship ON ctas (tenant_id, relationship_id)
    WHERE relationship_id IS NOT NULL;

CREATE TRIGGER ctas_relationship_insert BEFORE INSERT ON ctas
WHEN NEW.relationship_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM relationships r
    WHERE r.tenant_id = NEW.tenant_id AND r.id = NEW.relationship_id
      AND r.company_id = NEW.company_id)
BEGIN
    SELECT RAISE(ABORT, 'a CTA''s relationship must be a relationship of its company');
END;

CREATE TRIGGER ctas_relationship_update BEFORE UPDATE OF relationship_id, company_id ON ctas
WHEN NEW.relationship_id IS NOT NULL AND NOT EXISTS (
    SELECT 1 FROM relationships r
    WHERE r.tenant_id = NEW.tenant_id AND r.id = NEW.relationship_id
      AND r.company_id = NEW.company_id)
BEGIN
    SELECT RAISE(ABORT, 'a CTA''s relationship must be a relationship of its company');
END;
