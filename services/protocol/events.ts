// GET /api/v1/events: one `stats` event a second, what the dashboard and `mcrelay top` show.
import type { InterfaceInfo } from "./control.ts";
import type { RuleStatsBody, StatsBody } from "./stats.ts";
import type { Status } from "./status.ts";

/** One `stats` event: what /api/v1/stats returns, plus the supervisor's status and the interfaces. */
export interface DashboardEvent extends Omit<StatsBody, "rules"> {
  time: string;
  /** false until the data plane's counters can be read (counters are then zero) */
  dataPlane: boolean;
  rules: (RuleStatsBody & { reason?: string; input?: unknown; inputs?: unknown[]; redundancy?: unknown; outputs?: unknown[] })[];
  status: Status | null;
  interfaces: InterfaceInfo[] | null;
}
