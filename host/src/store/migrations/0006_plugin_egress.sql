-- The egress allow-list a tenant admin grants a notifier or lifecycle plugin: addresses and
-- domains its notifications may reach besides the event's own addresses and the tenant's users
-- (a JSON array of lower-case addresses and domains).
ALTER TABLE plugin_enablements
    ADD COLUMN egress TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(egress));
