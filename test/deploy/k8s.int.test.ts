/**
 * deploy/k8s, offline: every manifest is valid against the Kubernetes API
 * schemas (kubernetes-validate, strict, schemas shipped in the package), the
 * kustomization renders where kubectl is installed, and the Deployments are
 * what the services need: probes on /healthz and /readyz at the port the
 * service listens on, resources, a non-root user matching the image, an
 * environment (ConfigMap, optional TLS/SASL Secret) the services' config
 * schemas accept, disruption budgets, and no more replicas than partitions.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPOSITORY } from '../support/metric-catalogue.js';
import { deployTool, loadYaml, loadYamlDocument } from '../support/python-tools.js';
import { CONFIG_SCHEMAS, serviceConfig, type ConfiguredService } from '../support/service-config.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects, read as parsed YAML */
type Resource = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> };

const K8S = join(REPOSITORY, 'deploy/k8s');
const KUBERNETES_VERSIONS = ['1.28.0', '1.34.0'];
const SERVICES = Object.keys(CONFIG_SCHEMAS) as ConfiguredService[];
const manifests = () => readdirSync(K8S).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml');
const resources = (file: string) => loadYaml(join(K8S, file)) as Resource[];
let parsed: { file: string; resource: Resource }[] | null = null;
const all = () => (parsed ??= manifests().flatMap((file) => resources(file).map((resource) => ({ file, resource }))));
const find = (kind: string, name: string) => all().find(({ resource }) => resource.kind === kind && resource.metadata.name === name)?.resource;

const scratch: string[] = [];
afterAll(() => {
  for (const directory of scratch) rmSync(directory, { recursive: true, force: true });
});

function validate(files: string[], version: string) {
  return deployTool('kubernetes-validate', ['--strict', '--kubernetes-version', version, ...files]);
}

/** The environment a container starts with: envFrom sources in order (later wins), then env; fieldRefs as the pod would fill them. */
function containerEnvironment(deployment: Resource, withSecret: boolean): Record<string, string> {
  const container = deployment.spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    if (source.configMapRef) Object.assign(env, find('ConfigMap', source.configMapRef.name)!.data);
    if (source.secretRef && withSecret) Object.assign(env, find('Secret', source.secretRef.name)!.stringData);
  }
  for (const variable of container.env ?? []) env[variable.name] = variable.value ?? (variable.valueFrom?.fieldRef ? `${deployment.metadata.name}-7d9f8b6c5-x2x4z` : '');
  return env;
}

describe('deploy/k8s', () => {
  it('every manifest is valid against the Kubernetes schemas (strict), and the validator rejects a broken one', () => {
    const files = manifests().map((file) => join(K8S, file));
    for (const version of KUBERNETES_VERSIONS) {
      const result = validate(files, version);
      expect(result.status, result.output).toBe(0);
      const passed = result.output.split('\n').filter((line) => line.includes(' passed for resource '));
      expect(passed.length, result.output).toBe(all().length);
    }
    const directory = mkdtempSync(join(tmpdir(), 'sluice-k8s-'));
    scratch.push(directory);
    const broken = join(directory, 'fraud.yaml');
    writeFileSync(broken, readFileSync(join(K8S, 'fraud.yaml'), 'utf8').replace('readinessProbe:', 'readinesProbe:'));
    expect(validate([broken], KUBERNETES_VERSIONS[0]!).status).not.toBe(0);
  });

  it('the kustomization lists every manifest but the secrets template, and renders where kubectl is installed', (context) => {
    const kustomization = loadYamlDocument<{ namespace: string; resources: string[]; images: { name: string }[] }>(join(K8S, 'kustomization.yaml'));
    expect(kustomization.namespace).toBe('sluice');
    expect([...kustomization.resources].sort()).toEqual(manifests().filter((file) => file !== 'secrets.template.yaml').sort());
    expect(kustomization.images.map((image) => image.name)).toEqual(['sluice']);
    const kubectl = spawnSync('kubectl', ['kustomize', K8S], { encoding: 'utf8' });
    if (kubectl.error) {
      context.skip('no kubectl here: the kustomization is checked by its resource list only');
      return;
    }
    expect(kubectl.status, kubectl.stderr).toBe(0);
    const directory = mkdtempSync(join(tmpdir(), 'sluice-kustomized-'));
    scratch.push(directory);
    const rendered = join(directory, 'rendered.yaml');
    writeFileSync(rendered, kubectl.stdout);
    const result = validate([rendered], KUBERNETES_VERSIONS.at(-1)!);
    expect(result.status, result.output).toBe(0);
    const objects = loadYaml(rendered) as Resource[];
    for (const object of objects.filter((resource) => resource.kind !== 'Namespace')) expect((object.metadata as { namespace?: string }).namespace, object.metadata.name).toBe('sluice');
    for (const object of objects.filter((resource) => resource.kind === 'Deployment')) expect(object.spec.template.spec.containers[0].image).toMatch(/^sluice:\d+\.\d+\.\d+$/);
  });

  for (const name of SERVICES) {
    it(`${name}: probes, resources, non-root user, environment, disruption budget, scaling bound`, () => {
      const deployment = find('Deployment', name)!;
      expect(deployment, `a Deployment named ${name}`).toBeTruthy();
      const pod = deployment.spec.template;
      const [container, ...others] = pod.spec.containers;
      expect(others).toEqual([]);
      expect(container.image).toBe('sluice');
      expect(container.args).toEqual([name]);

      // The environment: accepted by the service's own config schema, with and without the TLS/SASL Secret.
      for (const withSecret of [false, true]) {
        const { config, unknown } = serviceConfig(name, containerEnvironment(deployment, withSecret));
        expect(unknown, `${name}: variables the service does not read`).toEqual([]);
        if (withSecret) {
          expect(config.KAFKA_SSL).toBe(true);
          expect(config.KAFKA_SASL_MECHANISM).toMatch(/^(plain|scram-sha-256|scram-sha-512)$/);
          // The TLS files are where the Secret volume is mounted.
          const mount = container.volumeMounts.find((volume: { name: string }) => pod.spec.volumes.find((v: any) => v.name === volume.name)?.secret?.secretName === 'sluice-kafka-tls');
          for (const file of ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE']) expect(dirname(config[file] as string)).toBe(mount.mountPath);
          const tlsKeys = Object.keys(find('Secret', 'sluice-kafka-tls')!.stringData!);
          for (const file of ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE']) expect(tlsKeys).toContain((config[file] as string).split('/').at(-1));
        }
        const metricsPort = container.ports.find((port: { name: string }) => port.name === 'metrics');
        expect(metricsPort.containerPort).toBe(config.METRICS_PORT);
        expect(pod.metadata.annotations['prometheus.io/port']).toBe(String(config.METRICS_PORT));
      }
      for (const source of container.envFrom) if (source.secretRef) expect(source.secretRef.optional).toBe(true);

      // Probes: liveness on /healthz, readiness on /readyz, a startup probe for topic creation and restores.
      expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
      expect(container.startupProbe.httpGet.path).toBe('/healthz');
      expect(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold).toBeGreaterThanOrEqual(120);

      // Resources, and a heap that fits the memory limit.
      expect(container.resources.requests.cpu).toBeTruthy();
      expect(container.resources.requests.memory).toBeTruthy();
      const limitMiB = Number.parseInt(container.resources.limits.memory, 10) * (container.resources.limits.memory.endsWith('Gi') ? 1024 : 1);
      const heap = Number(/--max-old-space-size=(\d+)/.exec(container.env.find((v: { name: string }) => v.name === 'NODE_OPTIONS')?.value ?? '')?.[1]);
      expect(heap).toBeLessThan(limitMiB);

      // Non-root, as the image's numeric USER; a read-only root filesystem with a writable /tmp.
      const imageUser = /^USER\s+(\d+)/m.exec(readFileSync(join(REPOSITORY, 'Dockerfile'), 'utf8'))?.[1];
      expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
      expect(String(pod.spec.securityContext.runAsUser)).toBe(imageUser);
      expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(container.volumeMounts.map((mount: { mountPath: string }) => mount.mountPath)).toContain('/tmp');
      expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(30);
      expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);

      // A disruption budget and a metrics Service that select these pods.
      const selects = (selector: Record<string, string>) => Object.entries(selector).every(([key, value]) => pod.metadata.labels[key] === value);
      expect(selects(deployment.spec.selector.matchLabels)).toBe(true);
      const budgets = all().filter(({ resource }) => resource.kind === 'PodDisruptionBudget' && selects(resource.spec.selector.matchLabels));
      expect(budgets.map(({ resource }) => resource.spec.maxUnavailable)).toEqual([1]);
      const metricsServices = all().filter(({ resource }) => resource.kind === 'Service' && resource.spec.clusterIP === 'None' && selects(resource.spec.selector));
      expect(metricsServices.map(({ resource }) => resource.spec.ports[0].targetPort)).toEqual(['metrics']);

      // Never more consumers than partitions: beyond that an instance gets no partition.
      const partitions = Number(find('ConfigMap', 'sluice-config')!.data!.TOPIC_PARTITIONS);
      const autoscaler = all().find(({ resource }) => resource.kind === 'HorizontalPodAutoscaler' && resource.spec.scaleTargetRef.name === name)?.resource;
      if (autoscaler) {
        expect(autoscaler.spec.scaleTargetRef.kind).toBe('Deployment');
        expect(autoscaler.spec.maxReplicas).toBeLessThanOrEqual(partitions);
        expect(autoscaler.spec.minReplicas).toBeGreaterThanOrEqual(2);
        expect(deployment.spec.replicas, 'replicas belong to the autoscaler').toBeUndefined();
      } else expect(deployment.spec.replicas).toBeLessThanOrEqual(partitions);
    });
  }

  it('the README explains scaling to the partition count and the TLS/SASL Secret', () => {
    const readme = readFileSync(join(K8S, 'README.md'), 'utf8');
    expect(readme).toMatch(/partition count/i);
    expect(readme).toContain('secrets.template.yaml');
    expect(existsSync(join(K8S, 'secrets.template.yaml'))).toBe(true);
  });
});
