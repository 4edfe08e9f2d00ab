-- Every committed change of a rule is announced on channel mcrelay_rules, its payload the nodes it
-- concerns ("*", a name, or "old new" when a rule moves), so each node's API fetches its rules at
-- once (services/api/fleet/listen.ts). A trigger rather than the API: a change made with psql is
-- announced too. PostgreSQL sends one notification per distinct payload per transaction, and
-- only once it commits; a periodic reconcile catches any a node missed.
CREATE FUNCTION mcrelay_rules_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM pg_notify('mcrelay_rules', NEW.node);
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('mcrelay_rules', OLD.node);
  ELSIF OLD.node = NEW.node THEN
    PERFORM pg_notify('mcrelay_rules', NEW.node);
  ELSE
    PERFORM pg_notify('mcrelay_rules', OLD.node || ' ' || NEW.node);
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER rules_notify AFTER INSERT OR UPDATE OR DELETE ON rules
  FOR EACH ROW EXECUTE FUNCTION mcrelay_rules_notify();
