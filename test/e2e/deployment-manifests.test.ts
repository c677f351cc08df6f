// The deployment as an operator gets it: docker-compose.yml under Debian's docker-compose, and every
// kustomize overlay of k8s/ rendered by kubectl and checked against Kubernetes' schemas, the images
// the repository builds, the settings Hearth reads, and the dashboards and rules it ships.

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  REPO,
  builtImages,
  composeConfig,
  configSettingNames,
  dockerIgnores,
  imageReference,
  one,
  overlayNames,
  podContainers,
  podLabels,
  podSpec,
  renderOverlay,
  selects,
  unknownFields,
  validateAgainstSchema,
  type Container,
  type K8sObject,
} from "../support/deployment.js";

const HEARTH_IMAGE = /^hearth\//;
/** Images from elsewhere that the deployment names, pinned to a version. */
const UPSTREAM_IMAGES = /^(redis|prom\/prometheus|grafana\/grafana):v?\d[\w.-]*$/;
const dashboards = readdirSync(path.join(REPO, "monitoring/dashboards")).filter((file) => file.endsWith(".json")).sort();
const rulesFile = path.join(REPO, "monitoring/prometheus/rules.yml");

function expectImageBuiltHere(image: string): void {
  if (!HEARTH_IMAGE.test(image)) {
    expect(image, "an upstream image, pinned").toMatch(UPSTREAM_IMAGES);
    return;
  }
  const { repository } = imageReference(image);
  const dockerfile = builtImages().get(repository);
  expect(dockerfile, `${image} is built by images/ (scripts/setup.sh or a documented docker build)`).toBeDefined();
  expect(existsSync(path.join(REPO, dockerfile!))).toBe(true);
}

interface ComposeService {
  image: string;
  restart?: string;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  command?: string[];
  volumes?: string[];
}
type ComposeServices = Record<"redis" | "gateway" | "prometheus" | "grafana", ComposeService>;

function readEnvFile(file: string): Record<string, string> {
  const entries = readFileSync(file, "utf8").split("\n").flatMap((line) => {
    const match = /^(\w+)=(.*)$/.exec(line);
    return match ? [[match[1]!, match[2]!] as const] : [];
  });
  return Object.fromEntries(entries);
}

describe("docker-compose.yml", () => {
  let dir: string;
  let services: ComposeServices;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "hearth-compose-"));
    const { stdout } = await composeConfig(path.join(REPO, ".env.example"));
    services = (parse(stdout) as { services: ComposeServices }).services;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs Redis, Hearth, Prometheus and Grafana, each with a healthcheck and a restart policy", () => {
    expect(Object.keys(services).sort()).toEqual(["gateway", "grafana", "prometheus", "redis"]);
    for (const [name, service] of Object.entries(services)) {
      expect(service.healthcheck, name).toMatchObject({ test: expect.any(Array) });
      expect(service.restart, name).toBe("unless-stopped");
      expectImageBuiltHere(service.image);
    }
    expect(services.gateway.depends_on).toMatchObject({ redis: { condition: "service_healthy" } });
  });

  it("refuses to start without the secrets of .env, naming the missing one", async () => {
    const empty = path.join(dir, "empty.env");
    writeFileSync(empty, "");
    await expect(composeConfig(empty)).rejects.toMatchObject({ stderr: expect.stringContaining("HEARTH_REDIS_PASSWORD") });
  });

  it("gives Hearth its secrets from .env and only settings that gateway/config.ts reads", () => {
    const environment = services.gateway.environment ?? {};
    const known = configSettingNames();
    for (const name of Object.keys(environment)) expect(known, `${name} is read by gateway/config.ts`).toContain(name);
    const env = readEnvFile(path.join(REPO, ".env.example"));
    expect(environment.HEARTH_ADMIN_TOKEN).toBe(env.HEARTH_ADMIN_TOKEN);
    expect(new URL(environment.REDIS_URL ?? "").password).toBe(env.HEARTH_REDIS_PASSWORD);
  });

  it("hands function containers the socket Redis listens on", () => {
    const socket = services.gateway.environment?.HEARTH_CONTAINER_REDIS_SOCKET ?? "";
    expect(socket).toMatch(/^\/.+\.sock$/);
    expect(services.redis.command?.join(" ")).toContain(`--unixsocket ${socket}`);
    const socketDir = path.dirname(socket);
    expect(services.redis.volumes).toContainEqual(expect.stringMatching(new RegExp(`^${socketDir}:${socketDir}(:rw)?$`)));
  });

  it("mounts the invoker's code cache at its host path, where the Docker engine looks for it", () => {
    const cache = services.gateway.environment?.HEARTH_CODE_CACHE_DIR ?? "";
    expect(cache).toMatch(/^\/./);
    expect(services.gateway.volumes).toContainEqual(expect.stringMatching(new RegExp(`^${cache}:${cache}(:rw)?$`)));
  });

  it("provisions Prometheus with the scrape target and rules, and Grafana with the dashboards and that Prometheus", () => {
    const mounts = [...(services.prometheus.volumes ?? []), ...(services.grafana.volumes ?? [])];
    const hostPaths = mounts.map((mount) => mount.split(":")[0] ?? "").filter((source) => source.startsWith("/"));
    for (const source of hostPaths) expect(existsSync(source), `${source} exists`).toBe(true);
    expect(hostPaths).toContain(rulesFile);
    expect(hostPaths).toContain(path.join(REPO, "monitoring/dashboards"));

    const prometheusConfig = parse(readFileSync(path.join(REPO, "deploy/compose/prometheus.yml"), "utf8"));
    const gateway = services.gateway.environment ?? {};
    expect(prometheusConfig.scrape_configs[0].static_configs[0].targets).toEqual([`${gateway.HEARTH_HOST}:${gateway.PORT}`]);
    const listen = services.prometheus.command?.find((flag) => flag.startsWith("--web.listen-address="))?.split("=")[1];
    const datasources = parse(readFileSync(path.join(REPO, "deploy/compose/grafana/provisioning/datasources/prometheus.yml"), "utf8"));
    expect(datasources.datasources[0].url).toBe(`http://${listen}`);
    const providers = parse(readFileSync(path.join(REPO, "deploy/compose/grafana/provisioning/dashboards/hearth.yml"), "utf8"));
    expect(mounts).toContainEqual(`${path.join(REPO, "monitoring/dashboards")}:${providers.providers[0].options.path}:ro`);
  });
});

describe.each(overlayNames())("k8s overlay %s", (overlay) => {
  let objects: K8sObject[];
  const find = (kind: string, name?: string): K8sObject[] => objects.filter((object) => object.kind === kind && (name === undefined || object.metadata.name === name));
  const workloads = (): K8sObject[] => objects.filter((object) => podSpec(object) !== undefined);

  beforeAll(async () => {
    objects = await renderOverlay(overlay);
  });

  it("renders, and every object validates against the Kubernetes (or prometheus-operator) schema of its kind", async () => {
    expect(objects.length).toBeGreaterThan(10);
    for (const object of objects) await validateAgainstSchema(object);
  });

  it("sets no field that the schema of its object does not know", () => {
    expect(unknownFields(objects)).toEqual([]);
  });

  it("puts everything in the hearth namespace", () => {
    expect(find("Namespace").map((object) => object.metadata.name)).toEqual(["hearth"]);
    for (const object of objects.filter((object) => object.kind !== "Namespace")) expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).toBe("hearth");
  });

  it("names only images that images/ builds, or pinned upstream ones", () => {
    for (const container of workloads().flatMap(podContainers)) expectImageBuiltHere(container.image);
  });

  it("sets on Hearth's containers only settings that gateway/config.ts reads", () => {
    const known = configSettingNames();
    const hearth = workloads().flatMap(podContainers).filter((container) => imageReference(container.image).repository === "hearth/gateway");
    expect(hearth.length).toBe(2);
    for (const container of hearth) {
      for (const { name } of container.env ?? []) expect(known, `${name} (${container.name}) is read by gateway/config.ts`).toContain(name);
    }
  });

  it("takes every secret and setting from a Secret or ConfigMap that the overlay makes, with that key", () => {
    for (const container of workloads().flatMap(podContainers)) {
      for (const { name, valueFrom } of container.env ?? []) {
        for (const [kind, ref] of [["Secret", valueFrom?.secretKeyRef], ["ConfigMap", valueFrom?.configMapKeyRef]] as const) {
          if (!ref) continue;
          const source = one(find(kind, ref.name), `${kind} ${ref.name} (${container.name} ${name})`);
          expect(Object.keys((source.data as Record<string, string>) ?? {}), `${container.name} ${name}`).toContain(ref.key);
        }
      }
    }
  });

  it("runs at least two gateways with /healthz probes, resources, a PodDisruptionBudget, an autoscaler and a Service", () => {
    const gateway = one(find("Deployment", "hearth-gateway"), "gateway Deployment");
    expect((gateway.spec as { replicas: number }).replicas).toBeGreaterThanOrEqual(2);
    const container = one(podContainers(gateway), "gateway container");
    for (const probe of ["readinessProbe", "livenessProbe"]) expect(container[probe], probe).toMatchObject({ httpGet: { path: "/healthz" } });
    expect(container.resources).toMatchObject({ requests: { cpu: expect.anything(), memory: expect.anything() }, limits: { memory: expect.anything() } });
    const labels = podLabels(gateway);
    expect(find("PodDisruptionBudget").some((pdb) => selects((pdb.spec as { selector: object }).selector, labels))).toBe(true);
    const hpa = one(find("HorizontalPodAutoscaler"), "HorizontalPodAutoscaler");
    expect(hpa.spec).toMatchObject({ scaleTargetRef: { kind: "Deployment", name: "hearth-gateway" }, minReplicas: expect.any(Number) });
    expect((hpa.spec as { minReplicas: number }).minReplicas).toBeGreaterThanOrEqual(2);
    expect(find("Service").some((service) => service.metadata.name === "hearth-gateway" && selects({ matchLabels: (service.spec as { selector: Record<string, string> }).selector }, labels))).toBe(true);
  });

  it("runs invokers on the function nodes, on the node's Docker engine, with Redis's socket in a node folder the forwarder fills", () => {
    const invoker = one(find("DaemonSet", "hearth-invoker"), "invoker DaemonSet");
    const spec = podSpec(invoker) ?? {};
    expect(spec.nodeSelector).toEqual({ "hearth.dev/functions": "true" });
    const volumes = spec.volumes as Array<{ name: string; hostPath?: { path: string } }>;
    const hostPathOf = (container: Container, mountPath: string): string | undefined => {
      const mount = container.volumeMounts?.find((candidate) => candidate.mountPath === mountPath);
      return volumes.find((volume) => volume.name === mount?.name)?.hostPath?.path;
    };
    const container = (name: string): Container => one(podContainers(invoker).filter((candidate) => candidate.name === name), `${name} container`);
    const [hearth, forwarder] = [container("invoker"), container("redis-socket")];
    expect(hostPathOf(hearth, "/var/run/docker.sock")).toBe("/var/run/docker.sock");
    const env = (of: Container): Record<string, string | undefined> => Object.fromEntries((of.env ?? []).map(({ name, value }) => [name, value]));
    const socket = env(hearth).HEARTH_CONTAINER_REDIS_SOCKET ?? "";
    expect(socket).toMatch(/^\/.+\.sock$/);
    // The invoker's Docker engine mounts the socket's folder by its path on the node.
    expect(env(forwarder).REDIS_SOCKET).toBe(socket);
    expect(hostPathOf(forwarder, path.dirname(socket))).toBe(path.dirname(socket));
    // The code cache too: a node folder at the same path in the pod.
    const cache = env(hearth).HEARTH_CODE_CACHE_DIR ?? "";
    expect(cache).toMatch(/^\/./);
    expect(hostPathOf(hearth, cache)).toBe(cache);
  });

  it("gives Hearth's pods no Kubernetes API token and no role", () => {
    for (const kind of ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"]) expect(find(kind), kind).toEqual([]);
    for (const workload of workloads()) expect(podSpec(workload)?.automountServiceAccountToken, workload.metadata.name).toBe(false);
  });

  it("admits no connection that a NetworkPolicy does not allow, and lets only Hearth's pods reach Redis", () => {
    const policies = find("NetworkPolicy").map((policy) => policy.spec as { podSelector: object; policyTypes: string[]; ingress?: Array<{ from?: Array<{ podSelector?: object; namespaceSelector?: object }> }> });
    expect(policies).toContainEqual({ podSelector: {}, policyTypes: ["Ingress"] });
    const redis = workloads().find((workload) => podLabels(workload)["app.kubernetes.io/component"] === "redis");
    if (!redis) return; // an external Redis: its own firewall's business
    const redisPolicies = policies.filter((policy) => selects(policy.podSelector, podLabels(redis)) && policy.ingress);
    const peers = redisPolicies.flatMap((policy) => policy.ingress!.flatMap((rule) => rule.from ?? [{}]));
    expect(peers.length).toBeGreaterThan(0);
    for (const peer of peers) expect(peer.namespaceSelector, "no other namespace").toBeUndefined();
    const admitted = workloads().filter((workload) => peers.some((peer) => peer.podSelector !== undefined && selects(peer.podSelector, podLabels(workload))));
    expect(admitted.map((workload) => workload.metadata.name).sort()).toEqual(["hearth-gateway", "hearth-invoker"]);
    const anyPod = { "app.kubernetes.io/name": "something-else" };
    expect(peers.some((peer) => peer.podSelector === undefined || selects(peer.podSelector, anyPod))).toBe(false);
  });

  it("has Prometheus scrape every Hearth pod, by annotations and by a ServiceMonitor", () => {
    for (const name of ["hearth-gateway", "hearth-invoker"]) {
      const workload = one(workloads().filter((candidate) => candidate.metadata.name === name), name);
      const annotations = (workload.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations;
      expect(annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/path": "/metrics", "prometheus.io/port": "8080" });
      const monitor = one(find("ServiceMonitor"), "ServiceMonitor");
      const monitorSpec = monitor.spec as { selector: object; endpoints: Array<{ port: string }> };
      const port = one(monitorSpec.endpoints, "ServiceMonitor endpoint").port;
      const service = find("Service").find((candidate) => selects(monitorSpec.selector, candidate.metadata.labels ?? {}) && selects({ matchLabels: (candidate.spec as { selector: Record<string, string> }).selector }, podLabels(workload)));
      expect(service, `a Service the ServiceMonitor selects for ${name}`).toBeDefined();
      expect((service!.spec as { ports: Array<{ name: string }> }).ports.map((port) => port.name)).toContain(port);
    }
  });

  it("ships monitoring/prometheus/rules.yml as the PrometheusRule and every dashboard to Grafana's sidecar", () => {
    const rule = one(find("PrometheusRule"), "PrometheusRule");
    expect((rule.spec as { groups: unknown }).groups, "run node scripts/k8s-prometheus-rule.mjs").toEqual(parse(readFileSync(rulesFile, "utf8")).groups);
    const configMap = one(find("ConfigMap").filter((candidate) => candidate.metadata.labels?.grafana_dashboard === "1"), "dashboards ConfigMap");
    const data = configMap.data as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual(dashboards);
    for (const file of dashboards) expect(JSON.parse(data[file] ?? "null")).toEqual(JSON.parse(readFileSync(path.join(REPO, "monitoring/dashboards", file), "utf8")));
    // kubectl apply keeps a copy in an annotation, which holds 256 KiB at most.
    expect(Buffer.byteLength(JSON.stringify(data))).toBeLessThan(256 * 1024);
  });
});

describe("files the deployment names", () => {
  it("sends every file an image copies from the repository into its build's context", () => {
    const copied = [...builtImages().values()].flatMap((dockerfile) =>
      [...readFileSync(path.join(REPO, dockerfile), "utf8").matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((match) => match[1]!.split(/\s+/)),
    );
    expect(copied).toContain("dist/hearth.cjs");
    for (const source of copied) expect(dockerIgnores(source), `${source} reaches the build context past .dockerignore`).toBe(false);
  });

  it("has the dashboards and rules that compose and k8s load", () => {
    expect(dashboards).toEqual(expect.arrayContaining(["hearth-overview.json", "hearth-function.json"]));
    for (const file of dashboards) expect(statSync(path.join(REPO, "monitoring/dashboards", file)).size).toBeGreaterThan(0);
    expect(parse(readFileSync(rulesFile, "utf8")).groups.length).toBeGreaterThan(0);
  });

  it("keeps no real secret in git: the overlays' secrets.env and .env are ignored", () => {
    const ignored = (file: string): boolean => {
      try {
        execFileSync("git", ["check-ignore", "-q", file], { cwd: REPO });
        return true;
      } catch {
        return false;
      }
    };
    expect(ignored(".env")).toBe(true);
    for (const overlay of overlayNames()) expect(ignored(`k8s/overlays/${overlay}/secrets.env`), overlay).toBe(true);
  });
});
