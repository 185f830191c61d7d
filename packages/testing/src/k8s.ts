// Reads deploy/k8s manifests for the tests that check them against the services themselves (not a test file).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** The repository's deploy/k8s folder. */
export const K8S_DIR = fileURLToPath(new URL('../../../deploy/k8s/', import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML; tests assert their shape.
export type K8sObject = Record<string, any>;

/** Every object of a manifest file (multi-document YAML); fails on a YAML error. */
export function k8sObjects(file: string): K8sObject[] {
  return parseAllDocuments(readFileSync(new URL(file, `file://${K8S_DIR}`), 'utf8')).map((document) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]?.message}`);
    return document.toJS() as K8sObject;
  });
}

/** The object of `kind` named `name` in `file`. */
export function k8sObject(file: string, kind: string, name: string): K8sObject {
  const found = k8sObjects(file).find((object) => object.kind === kind && object.metadata?.name === name);
  if (!found) throw new Error(`${file}: no ${kind} ${name}`);
  return found;
}

/** A container's plain environment values, and the variables it takes from Secrets. */
export function containerEnv(container: K8sObject): { values: Record<string, string>; fromSecrets: string[] } {
  const values: Record<string, string> = {};
  const fromSecrets: string[] = [];
  for (const variable of container.env ?? []) {
    if (variable.valueFrom?.secretKeyRef) fromSecrets.push(variable.name);
    else values[variable.name] = String(variable.value);
  }
  return { values, fromSecrets };
}

/** What a service's manifest says, checked against the kustomization, ready for a test to hold against the app. */
export interface ServiceManifest {
  container: K8sObject;
  pod: K8sObject;
  /** Plain environment values, with each `*_FILE` path that points into a mounted Secret rewritten by `secretFile`. */
  env: Record<string, string>;
  /** Variables taken from Secrets (`valueFrom.secretKeyRef`). */
  fromSecrets: string[];
  containerPort: number;
  /** The container port named `metrics` (Prometheus), if any. */
  metricsPort: number | undefined;
  /** The pod template's annotations (`prometheus.io/*` for scraping). */
  podAnnotations: Record<string, string>;
  /** The container ports the Service sends traffic to. */
  servicePorts: number[];
  readinessPath: string;
  livenessPath: string;
  startupPath: string;
  /** Path prefixes the Ingress sends to this service. */
  ingressPrefixes: string[];
}

/**
 * Reads `<name>.yaml` (Deployment, Service, PodDisruptionBudget), the kustomization's generated Secrets and the
 * Ingress, and checks that they fit together: the Service selects the pods and targets a declared port, each mounted
 * Secret is generated with the keys the `*_FILE` variables read, and the PodDisruptionBudget keeps a replica.
 * `secretFile(secret, key)` gives the local file standing for a Secret's key.
 */
export function serviceManifest(name: string, secretFile: (secret: string, key: string) => string): ServiceManifest {
  const file = `${name}.yaml`;
  const deployment = k8sObject(file, 'Deployment', name);
  const service = k8sObject(file, 'Service', name);
  const budget = k8sObject(file, 'PodDisruptionBudget', name);
  const pod = deployment.spec.template.spec;
  const container = pod.containers.find((candidate: K8sObject) => candidate.name === name);
  if (!container) throw new Error(`${file}: no container ${name}`);
  const labels = deployment.spec.template.metadata.labels;
  const selects = (selector: Record<string, string>) =>
    Object.entries(selector).every(([key, value]) => labels[key] === value);
  if (!selects(deployment.spec.selector.matchLabels))
    throw new Error(`${file}: the Deployment does not select its pods`);
  if (!selects(service.spec.selector)) throw new Error(`${file}: the Service does not select the pods`);
  if (!selects(budget.spec.selector.matchLabels)) throw new Error(`${file}: the budget does not select the pods`);
  const portNames = new Map<string, number>(
    container.ports.map((port: K8sObject) => [port.name as string, port.containerPort as number]),
  );
  for (const port of service.spec.ports) {
    if (!portNames.has(port.targetPort)) throw new Error(`${file}: Service targets unknown port ${port.targetPort}`);
  }

  const [kustomization] = k8sObjects('kustomization.yaml');
  const generated = new Map<string, string[]>(
    (kustomization?.secretGenerator ?? []).map((secret: K8sObject) => [
      secret.name as string,
      (secret.files as string[]).map((entry) => entry.split('=')[0] as string),
    ]),
  );
  const mounts = new Map<string, { secret: string; keys: string[] }>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes.find((candidate: K8sObject) => candidate.name === mount.name);
    const secret = volume?.secret?.secretName as string | undefined;
    if (!secret) continue;
    const keys = generated.get(secret);
    if (!keys) throw new Error(`${file}: mounts Secret ${secret}, which kustomization.yaml does not generate`);
    mounts.set(`${String(mount.mountPath).replace(/\/$/, '')}/`, { secret, keys });
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref && !generated.get(ref.name)?.includes(ref.key)) {
      throw new Error(`${file}: ${variable.name} reads ${ref.name}/${ref.key}, which is not generated`);
    }
  }

  const { values, fromSecrets } = containerEnv(container);
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    const mount = key.endsWith('_FILE') ? [...mounts].find(([path]) => value.startsWith(path)) : undefined;
    if (!mount) {
      env[key] = value;
      continue;
    }
    const [path, { secret, keys }] = mount;
    const secretKey = value.slice(path.length);
    if (!keys.includes(secretKey)) throw new Error(`${file}: ${key} reads ${secretKey}, not a key of ${secret}`);
    env[key] = secretFile(secret, secretKey);
  }

  const ingress = k8sObject('ingress.yaml', 'Ingress', 'mxp-auth');
  const ingressPrefixes = ingress.spec.rules
    .flatMap((rule: K8sObject) => rule.http.paths)
    .filter((path: K8sObject) => path.backend.service.name === name)
    .map((path: K8sObject) => {
      const port = path.backend.service.port;
      if (
        !service.spec.ports.some((declared: K8sObject) => declared.name === port.name || declared.port === port.number)
      ) {
        throw new Error(`ingress.yaml: ${path.path} goes to a port ${name}'s Service does not have`);
      }
      return path.path as string;
    });

  const probePort = (probe: K8sObject, kind: string) => {
    const port = probe.httpGet.port;
    if (typeof port === 'string' ? !portNames.has(port) : ![...portNames.values()].includes(port)) {
      throw new Error(`${file}: the ${kind} probe targets an undeclared port`);
    }
    return probe.httpGet.path as string;
  };
  return {
    container,
    pod,
    env,
    fromSecrets,
    containerPort: [...portNames.values()][0] as number,
    metricsPort: portNames.get('metrics'),
    podAnnotations: deployment.spec.template.metadata.annotations ?? {},
    servicePorts: service.spec.ports.map((port: K8sObject) =>
      typeof port.targetPort === 'string' ? portNames.get(port.targetPort) : port.targetPort,
    ),
    readinessPath: probePort(container.readinessProbe, 'readiness'),
    livenessPath: probePort(container.livenessProbe, 'liveness'),
    startupPath: probePort(container.startupProbe, 'startup'),
    ingressPrefixes,
  };
}

/** The hardening every pod of ours must have (restricted Pod Security Standard, read-only root, a memory limit). */
export function hardeningProblems(manifest: ServiceManifest): string[] {
  const problems: string[] = [];
  const { pod, container } = manifest;
  if (pod.securityContext?.runAsNonRoot !== true) problems.push('runAsNonRoot');
  if (pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault') problems.push('seccompProfile');
  if (pod.automountServiceAccountToken !== false) problems.push('automountServiceAccountToken');
  if (container.securityContext?.readOnlyRootFilesystem !== true) problems.push('readOnlyRootFilesystem');
  if (container.securityContext?.allowPrivilegeEscalation !== false) problems.push('allowPrivilegeEscalation');
  if (container.securityContext?.capabilities?.drop?.[0] !== 'ALL') problems.push('capabilities');
  if (!container.resources?.limits?.memory || !container.resources?.requests?.cpu) problems.push('resources');
  return problems;
}

/**
 * What keeps the pod's metrics scrapable and private: a container port named `metrics` apart from the API's, the
 * service listening there (`METRICS_PORT`), `prometheus.io/*` annotations naming it, and a Service that carries only
 * the API port (the Ingress reaches pods through the Service only).
 */
export function metricsExposureProblems(manifest: ServiceManifest): string[] {
  const problems: string[] = [];
  const { metricsPort, containerPort, env, podAnnotations, servicePorts } = manifest;
  if (metricsPort === undefined) return ['no container port named metrics'];
  if (metricsPort === containerPort) problems.push('metrics port is the API port');
  if (env.METRICS_PORT !== String(metricsPort)) problems.push('METRICS_PORT is not the metrics port');
  if (podAnnotations['prometheus.io/scrape'] !== 'true') problems.push('prometheus.io/scrape');
  if (podAnnotations['prometheus.io/port'] !== String(metricsPort)) problems.push('prometheus.io/port');
  if (podAnnotations['prometheus.io/path'] !== '/metrics') problems.push('prometheus.io/path');
  if (servicePorts.join() !== String(containerPort)) problems.push('the Service carries more than the API port');
  return problems;
}
