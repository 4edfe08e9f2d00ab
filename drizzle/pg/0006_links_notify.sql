-- Every committed change of a link is announced like a rule's (0002_rules_notify.sql: the same
-- function, on the same channel mcrelay_rules, its payload the nodes concerned), so each node's API
-- fetches its links at once too. The reconcile that follows looks at rules and links alike.
CREATE TRIGGER links_notify AFTER INSERT OR UPDATE OR DELETE ON links
  FOR EACH ROW EXECUTE FUNCTION mcrelay_rules_notify();
