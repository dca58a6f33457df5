-- Inserting a company does less work, for imports of many rows.
--
-- The rule that a new company's manager is a partner is checked after the row is inserted
-- instead of before: a BEFORE trigger makes SQLite copy every value of each new row for the
-- trigger, an AFTER trigger reads the row as written. RAISE(ABORT) undoes the statement either
-- way, so a refused row is refused as before, with the same message.
DROP TRIGGER companies_manager_is_partner_insert;
CREATE TRIGGER companies_manager_is_partner_insert AFTER INSERT ON companies
WHEN NEW.managed_by IS NOT NULL AND EXISTS (
    SELECT 1 FROM companies p
    WHERE p.tenant_id = NEW.tenant_id AND p.id = NEW.managed_by AND p.managed_as <> 'partner')
BEGIN
    SELECT RAISE(ABORT, 'one-partner rule: managed_by must name a partner company');
END;

-- Companies are listed by their folded name (`companies_name_folded`, which look-ups by name use
-- already), so the index of names ignoring ASCII case alone is no longer kept up to date on each
-- insert.
DROP INDEX companies_name;
