// The files `npm run monitoring` writes, by path from the repository root: what Grafana and
// Prometheus are provisioned with. A unit test checks the committed files equal these.

import { stringify } from "yaml";
import { functionDashboard, overviewDashboard } from "./dashboards.js";
import { PRODUCTION_THRESHOLDS, rulesFile } from "./rules.js";

export const DASHBOARD_FILES = {
  overview: "monitoring/dashboards/hearth-overview.json",
  function: "monitoring/dashboards/hearth-function.json",
} as const;

export const RULES_FILE = "monitoring/prometheus/rules.yml";

export function generatedFiles(): Record<string, string> {
  return {
    [DASHBOARD_FILES.overview]: JSON.stringify(overviewDashboard(), null, 2) + "\n",
    [DASHBOARD_FILES.function]: JSON.stringify(functionDashboard(), null, 2) + "\n",
    [RULES_FILE]: "# Generated from monitoring/rules.ts by `npm run monitoring`: edit that file, not this one.\n" + stringify(rulesFile(PRODUCTION_THRESHOLDS), { lineWidth: 0 }),
  };
}
