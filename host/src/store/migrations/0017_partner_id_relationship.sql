-- A partner user's Partner ID references a partner company, or a relationship of one (the
-- tenant's relationship record with the partner, such as its reseller agreement). With a
-- relationship, `partner_id` holds that relationship's company: the partner the user works for
-- and whose records it reaches. The host checks that the relationship's company is the partner
-- and refuses to delete a relationship that partner users reference (a column added to a table
-- cannot carry the composite tenant key its foreign key would need).
ALTER TABLE users ADD COLUMN partner_relationship_id INTEGER;
