// What the deployment tests read: the settings gateway/config.ts takes, the images images/ builds,
// rendered kustomize overlays and docker-compose files, and validation against Kubernetes' schemas.

import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { parseAllDocuments } from "yaml";

const run = promisify(execFile);

export const REPO = path.resolve(import.meta.dirname, "../..");

/** A Kubernetes object as rendered: only the fields the tests look at are typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** The environment variables gateway/config.ts reads: the keys of its envSchema. */
export function configSettingNames(): Set<string> {
  const source = readFileSync(path.join(REPO, "gateway/config.ts"), "utf8");
  const schema = /const envSchema = z\.object\(\{\n([\s\S]*?)\n\}\);/.exec(source);
  if (!schema) throw new Error("gateway/config.ts has no `const envSchema = z.object({ … });`");
  const names = [...schema[1]!.matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((match) => match[1]!);
  return new Set(names);
}

/**
 * The images the repository builds, by tag (`hearth/gateway`), with their Dockerfiles: every
 * `build_image TAG DOCKERFILE` of scripts/setup.sh and every `docker build … -f DOCKERFILE -t TAG`
 * that a Dockerfile's header or the README tells the reader to run.
 */
export function builtImages(): Map<string, string> {
  const dockerfiles = readdirSync(path.join(REPO, "images"), { recursive: true, encoding: "utf8" })
    .filter((file) => path.basename(file).endsWith("Dockerfile"))
    .map((file) => path.join(REPO, "images", file));
  const texts = [path.join(REPO, "scripts/setup.sh"), path.join(REPO, "README.md"), ...dockerfiles].map((file) => readFileSync(file, "utf8"));
  const images = new Map<string, string>();
  for (const text of texts) {
    for (const [, tag, dockerfile] of text.matchAll(/build_image (hearth\/[\w.-]+)(?::[\w.-]+)? (images\/\S+)/g)) images.set(tag!, dockerfile!);
    for (const [, dockerfile, tag] of text.matchAll(/docker build [^\n]*-f (images\/\S+) -t (hearth\/[\w.-]+)/g)) images.set(tag!, dockerfile!);
  }
  return images;
}

/** Whether .dockerignore keeps a path (relative to the repository) out of a build's context. */
export function dockerIgnores(file: string): boolean {
  const patterns = readFileSync(path.join(REPO, ".dockerignore"), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const parents = file.split("/").map((_, index, parts) => parts.slice(0, index + 1).join("/"));
  let ignored = false;
  // As Docker reads it: the last pattern that matches the path or a folder above it wins.
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    const glob = pattern.replace(/^!/, "").replace(/\/$/, "");
    const regex = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*\*/g, "\0").replace(/\*/g, "[^/]*").replace(/\0/g, ".*").replace(/\?/g, "[^/]")}$`);
    if (parents.some((parent) => regex.test(parent))) ignored = !negated;
  }
  return ignored;
}

/** `repo/name:tag` split; no tag means `latest`, as Docker reads it. */
export function imageReference(image: string): { repository: string; tag: string } {
  const at = image.lastIndexOf(":");
  return at > image.lastIndexOf("/") ? { repository: image.slice(0, at), tag: image.slice(at + 1) } : { repository: image, tag: "latest" };
}

export function overlayNames(): string[] {
  return readdirSync(path.join(REPO, "k8s/overlays")).sort();
}

/**
 * `kubectl kustomize` of an overlay, with its secrets.env written from secrets.env.example the way an
 * operator would: in a copy of k8s/ and monitoring/, so that nothing is left in the worktree.
 */
export async function renderOverlay(overlay: string): Promise<K8sObject[]> {
  const copy = mkdtempSync(path.join(os.tmpdir(), "hearth-k8s-"));
  try {
    for (const folder of ["k8s", "monitoring"]) cpSync(path.join(REPO, folder), path.join(copy, folder), { recursive: true });
    const overlayDir = path.join(copy, "k8s/overlays", overlay);
    const example = path.join(overlayDir, "secrets.env.example");
    if (existsSync(example)) cpSync(example, path.join(overlayDir, "secrets.env"));
    const { stdout } = await run("kubectl", ["kustomize", overlayDir], { maxBuffer: 16 * 1024 * 1024 }).catch((error: NodeJS.ErrnoException) => {
      // Debian's kubernetes-client (1.20) is too old for kustomize components: kubectl 1.27 or newer.
      throw error.code === "ENOENT" ? new Error("kubectl (1.27 or newer, for kustomize components) is not installed") : error;
    });
    return parseYamlDocuments(stdout) as K8sObject[];
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

export function parseYamlDocuments(text: string): unknown[] {
  return parseAllDocuments(text).map((document) => {
    if (document.errors.length > 0) throw new Error(document.errors.map((error) => error.message).join("; "));
    return document.toJSON();
  });
}

/** `docker-compose config` of the repository's compose file with the given env file. */
export async function composeConfig(envFile: string): Promise<{ stdout: string; stderr: string }> {
  // A clean environment: only the env file may supply the variables the compose file needs.
  return run("docker-compose", ["--project-directory", REPO, "--env-file", envFile, "-f", path.join(REPO, "docker-compose.yml"), "config"], {
    env: { PATH: process.env.PATH },
  });
}

/** The kubernetes-models (or prometheus-operator models) module of an object's apiVersion. */
function modelsModule(object: K8sObject): string {
  const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : ["", object.apiVersion];
  if (group === "monitoring.coreos.com") return `@kubernetes-models/prometheus-operator/${group}/${version}`;
  return group === "" ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`;
}

async function modelOf(object: K8sObject): Promise<{ new (data: object): { validate(): void } }> {
  const module = (await import(modelsModule(object))) as Record<string, unknown>;
  const model = module[object.kind];
  if (typeof model !== "function") throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  return model as { new (data: object): { validate(): void } };
}

/** Validates against the Kubernetes OpenAPI schema of its kind; throws what does not conform. */
export async function validateAgainstSchema(object: K8sObject): Promise<void> {
  const Model = await modelOf(object);
  new Model(object.kind === "Secret" ? withUnwrappedBase64(object) : object).validate();
}

/**
 * Fields that the schema of their object does not have (a typo like `readinesProbe`): the OpenAPI
 * schemas allow any extra field, but the API server drops or refuses them. TypeScript's excess
 * property check over kubernetes-models' types, which are generated from the same schemas, finds
 * them; one message per object at most.
 */
export function unknownFields(objects: K8sObject[]): string[] {
  const file = path.join(REPO, "test/.manifests-check.ts");
  const source = objects
    .map((object, index) => `import type { I${object.kind} as T${index} } from "${modelsModule(object)}/${object.kind}";\nexport const o${index}: T${index} = ${JSON.stringify(object)};`)
    .join("\n");
  const host = ts.createCompilerHost({});
  const readSource = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) => (name === file ? ts.createSourceFile(name, source, language) : readSource(name, language, ...rest));
  host.fileExists = (name) => name === file || fileExists(name);
  const options = { strict: true, noEmit: true, skipLibCheck: true, types: [], module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext };
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const line = diagnostic.file && diagnostic.start !== undefined ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line : -1;
    const object = objects[Math.floor(line / 2)];
    return `${object ? `${object.kind} ${object.metadata.name}: ` : ""}${ts.flattenDiagnosticMessageText(diagnostic.messageText, " ")}`;
  });
}

/**
 * kustomize wraps long base64 values over lines; the API server's decoder (Go's encoding/base64)
 * skips the line breaks, the schema's `format: byte` does not.
 */
function withUnwrappedBase64(secret: K8sObject): K8sObject {
  const data = Object.fromEntries(Object.entries((secret.data as Record<string, string>) ?? {}).map(([key, value]) => [key, value.replace(/[\r\n]/g, "")]));
  return { ...secret, data };
}

export interface Container {
  name: string;
  image: string;
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef } }>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
  [field: string]: unknown;
}

interface KeyRef {
  name: string;
  key: string;
}

/** The only item of a list; a test that expects one of a thing fails on none or several. */
export function one<T>(items: T[], what: string): T {
  if (items.length !== 1) throw new Error(`expected one ${what}, found ${items.length}`);
  return items[0]!;
}

/** Every container of a workload's pod template, init containers too. */
export function podContainers(object: K8sObject): Container[] {
  const spec = podSpec(object);
  if (!spec) return [];
  return [...((spec.initContainers as []) ?? []), ...((spec.containers as []) ?? [])];
}

export function podSpec(object: K8sObject): Record<string, unknown> | undefined {
  const template = (object.spec as { template?: { spec?: Record<string, unknown> } } | undefined)?.template;
  return template?.spec;
}

export function podLabels(object: K8sObject): Record<string, string> {
  return (object.spec as { template?: { metadata?: { labels?: Record<string, string> } } } | undefined)?.template?.metadata?.labels ?? {};
}

/** A label selector (matchLabels and matchExpressions' In / NotIn / Exists / DoesNotExist) against labels. */
export function selects(selector: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }, labels: Record<string, string>): boolean {
  const byLabel = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpression = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    const value = labels[key];
    if (operator === "In") return value !== undefined && values.includes(value);
    if (operator === "NotIn") return value === undefined || !values.includes(value);
    if (operator === "Exists") return key in labels;
    if (operator === "DoesNotExist") return !(key in labels);
    throw new Error(`unknown selector operator ${operator}`);
  });
  return byLabel && byExpression;
}
