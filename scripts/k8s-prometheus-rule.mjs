#!/usr/bin/env node
// Writes k8s/components/prometheus-operator/prometheus-rule.yaml from monitoring/prometheus/rules.yml,
// so that the prometheus-operator loads the same alert rules as the Prometheus of docker-compose.yml.
// Run it after changing the rules; test/e2e/deployment-manifests.test.ts fails while they differ.
import { readFileSync, writeFileSync } from "node:fs";
import { parse, stringify } from "yaml";

const rulesFile = new URL("../monitoring/prometheus/rules.yml", import.meta.url);
const target = new URL("../k8s/components/prometheus-operator/prometheus-rule.yaml", import.meta.url);

const { groups } = parse(readFileSync(rulesFile, "utf8"));
const rule = {
  apiVersion: "monitoring.coreos.com/v1",
  kind: "PrometheusRule",
  metadata: { name: "hearth", labels: { "app.kubernetes.io/name": "hearth" } },
  spec: { groups },
};
const header = "# Generated from monitoring/prometheus/rules.yml by scripts/k8s-prometheus-rule.mjs: do not edit.\n";
writeFileSync(target, header + stringify(rule, { lineWidth: 0 }));
