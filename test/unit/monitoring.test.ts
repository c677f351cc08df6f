// The dashboards and rules of monitoring/: the committed files are what the TypeScript makes, and
// they hold together (datasources, the $function variable, recorded series that exist, runbooks).
// Whether Prometheus parses and answers every expression: test/e2e/monitoring.test.ts.

import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { DASHBOARD_FILES, generatedFiles, RULES_FILE } from "../../monitoring/generated-files.js";
import { alertRules, PRODUCTION_THRESHOLDS, recordingRules } from "../../monitoring/rules.js";
import { INVOCATION_OUTCOMES, outcomeOfError } from "../../gateway/protocol/outcome.js";

interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr?: string; refId?: string; datasource?: { type: string; uid: string } }>;
}

interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown }> };
}

const read = (file: string): Dashboard => JSON.parse(readFileSync(file, "utf8")) as Dashboard;
const datasource = { type: "prometheus", uid: "${datasource}" };

describe("monitoring files", () => {
  it("are committed as the TypeScript generates them (npm run monitoring)", () => {
    for (const [file, content] of Object.entries(generatedFiles())) expect(readFileSync(file, "utf8"), file).toBe(content);
  });

  it("give every panel a datasource and queries with an expression, each on the datasource variable", () => {
    for (const file of Object.values(DASHBOARD_FILES)) {
      const dashboard = read(file);
      expect(dashboard.templating.list.find((variable) => variable.name === "datasource")).toMatchObject({ type: "datasource", query: "prometheus" });
      const panels = dashboard.panels.filter((panel) => panel.type !== "row");
      expect(panels.length).toBeGreaterThan(10);
      for (const panel of panels) {
        expect(panel.datasource, panel.title).toEqual(datasource);
        expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
        for (const target of panel.targets!) {
          expect(target.expr, panel.title).toMatch(/\S/);
          expect(target.datasource, panel.title).toEqual(datasource);
        }
        expect(new Set(panel.targets!.map((target) => target.refId)).size, panel.title).toBe(panel.targets!.length);
      }
      expect(new Set(panels.map((panel) => panel.title)).size).toBe(panels.length);
    }
  });

  it("give the function dashboard a $function variable, and every one of its queries uses it", () => {
    const dashboard = read(DASHBOARD_FILES.function);
    expect(dashboard.templating.list.find((variable) => variable.name === "function")).toMatchObject({ type: "query", query: "label_values(hearth_queue_depth, function)" });
    for (const panel of dashboard.panels.filter((p) => p.type !== "row")) {
      for (const target of panel.targets!) expect(target.expr, panel.title).toContain('function=~"$function"');
    }
    expect(read(DASHBOARD_FILES.overview).panels.some((panel) => panel.targets?.some((target) => target.expr?.includes("$function")))).toBe(false);
  });

  it("query recorded series only where a rule records them, and use every recording rule", () => {
    const recorded = new Set(recordingRules().map((rule) => rule.record));
    const exprs = Object.values(DASHBOARD_FILES).flatMap((file) => read(file).panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr!)));
    for (const expr of exprs) for (const name of expr.match(/hearth:[a-z0-9_:]+/g) ?? []) expect(recorded, expr).toContain(name);
    for (const record of recorded) expect(exprs.join("\n"), record).toContain(record);
  });

  it("write alert rules with a severity, a summary and a runbook line each, with the production thresholds", () => {
    const file = parse(readFileSync(RULES_FILE, "utf8")) as { groups: Array<{ name: string; rules: Array<Record<string, any>> }> };
    const alerts = file.groups.flatMap((group) => group.rules).filter((rule) => rule.alert);
    expect(alerts.map((rule) => rule.alert)).toEqual(alertRules(PRODUCTION_THRESHOLDS).map((rule) => rule.alert));
    for (const rule of alerts) {
      expect(rule.labels.severity, rule.alert).toMatch(/^(warning|critical)$/);
      expect(rule.annotations.summary, rule.alert).toMatch(/\S/);
      expect(rule.annotations.runbook, rule.alert).toMatch(/.{40}/);
      expect(rule.for, rule.alert).toBe(PRODUCTION_THRESHOLDS.for);
    }
    expect(alerts.find((rule) => rule.alert === "HearthAsyncQueueStale")!.expr).toContain(`> ${PRODUCTION_THRESHOLDS.queueAgeSeconds}`);
  });
});

describe("invocation outcomes", () => {
  it("name Hearth's own errors by their cause", () => {
    expect(outcomeOfError(502, "Runtime.OutOfMemory")).toBe("out_of_memory");
    expect(outcomeOfError(504, "Sandbox.Timedout")).toBe("timeout");
    expect(outcomeOfError(504, "Hearth.Timeout")).toBe("timeout");
    expect(outcomeOfError(429, "TooManyRequests")).toBe("throttled");
    expect(outcomeOfError(504, "Hearth.QueueTimeout")).toBe("throttled");
    expect(outcomeOfError(502, "Hearth.ContainerExited")).toBe("platform_error");
    expect(outcomeOfError(503, "Hearth.InsufficientCapacity")).toBe("platform_error");
    expect(INVOCATION_OUTCOMES).toHaveLength(6);
  });
});
