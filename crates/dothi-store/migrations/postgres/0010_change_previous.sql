-- The previous state a change replaced, for notifications with showChanges and for deletions
-- (§5.8.6): for an update, the previous instances of the changed attributes (a JSON object,
-- attribute IRI -> instances); for a deletion, the entity body as it was. NULL otherwise.
ALTER TABLE ngsild_changes ADD COLUMN previous TEXT;
