/**
 * docker-compose.yml, offline: valid against the Compose Specification schema
 * (check-jsonschema's built-in copy; `docker compose config` too where the
 * compose plugin is installed), and consistent with the rest of the
 * repository: Kafka in KRaft mode, Apicurio with BACKWARD compatibility, the
 * four services from the Dockerfile with an environment their own config
 * schemas accept and that points at the compose Kafka and registry, and
 * Prometheus scraping them where they serve their metrics.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPOSITORY } from '../support/metric-catalogue.js';
import { deployTool, loadYamlDocument } from '../support/python-tools.js';
import { CONFIG_SCHEMAS, serviceConfig, type ConfiguredService } from '../support/service-config.js';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string } | string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  stop_grace_period?: string;
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const COMPOSE = join(REPOSITORY, 'docker-compose.yml');
const SLUICE = Object.keys(CONFIG_SCHEMAS) as ConfiguredService[];
const compose = () => loadYamlDocument<Compose>(COMPOSE);

/** Compose's interpolation of ${VAR}, ${VAR:-default} and ${VAR-default}, with nothing set in the environment. */
function interpolate(value: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}/g, (_, _name: string, _op: string, fallback: string | undefined) => fallback ?? '');
}

const scratch: string[] = [];
afterAll(() => {
  for (const directory of scratch) rmSync(directory, { recursive: true, force: true });
});

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema, and the schema check catches a broken file', () => {
    const valid = deployTool('check-jsonschema', ['--builtin-schema', 'vendor.compose-spec', COMPOSE]);
    expect(valid.status, valid.output).toBe(0);
    const directory = mkdtempSync(join(tmpdir(), 'sluice-compose-'));
    scratch.push(directory);
    const broken = join(directory, 'docker-compose.yml');
    writeFileSync(broken, readFileSync(COMPOSE, 'utf8').replace('condition: service_healthy', 'condition: when_it_feels_like_it'));
    expect(deployTool('check-jsonschema', ['--builtin-schema', 'vendor.compose-spec', broken]).status).not.toBe(0);
  });

  it('is accepted by `docker compose config` where the compose plugin exists', (context) => {
    const version = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' });
    if (version.status !== 0) {
      context.skip(`no docker compose plugin here (${(version.stderr || String(version.error)).trim().split('\n')[0]}): the schema check above stands in`);
      return;
    }
    const result = spawnSync('docker', ['compose', '-f', COMPOSE, 'config', '--quiet'], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
  });

  it('runs Kafka in KRaft mode from the apache/kafka image, with a listener for the services and one for the host', () => {
    const kafka = compose().services.kafka!;
    expect(kafka.image).toMatch(/^apache\/kafka:\d+\.\d+\.\d+$/);
    const env = kafka.environment!;
    expect(env.KAFKA_PROCESS_ROLES!.split(',').sort()).toEqual(['broker', 'controller']);
    expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(`${env.KAFKA_NODE_ID}@kafka:9093`);
    expect(env.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const advertised = Object.fromEntries(env.KAFKA_ADVERTISED_LISTENERS!.split(',').map((listener) => listener.split('://') as [string, string]));
    expect(advertised[env.KAFKA_INTER_BROKER_LISTENER_NAME!]).toBe('kafka:9092');
    // The services create their topics with the partition counts they need; nothing else may.
    expect(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
    // One broker: the transaction log must accept a replication factor of 1, or exactly-once cannot start.
    expect(env.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR).toBe('1');
    expect(env.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR).toBe('1');
    expect(kafka.healthcheck).toBeTruthy();
  });

  it('runs the Apicurio registry with BACKWARD compatibility as its global rule', () => {
    const registry = compose().services.registry!;
    expect(registry.image).toMatch(/^apicurio\/apicurio-registry:3\./);
    // apicurio.rules.global.compatibility, as an environment variable (Quarkus/MicroProfile mapping).
    expect(registry.environment!.APICURIO_RULES_GLOBAL_COMPATIBILITY).toBe('BACKWARD');
    expect(registry.healthcheck).toBeTruthy();
  });

  it('runs the four services from the Dockerfile, each with an environment its config schema accepts, pointed at the compose Kafka and registry', () => {
    const { services } = compose();
    const kafkaAdvertised = services.kafka!.environment!.KAFKA_ADVERTISED_LISTENERS!;
    for (const name of SLUICE) {
      const service = services[name]!;
      expect(service, name).toBeTruthy();
      const build = typeof service.build === 'string' ? { context: service.build, dockerfile: 'Dockerfile' } : service.build!;
      expect(build.context).toBe('.');
      expect(existsSync(join(REPOSITORY, build.dockerfile))).toBe(true);
      expect(service.command).toEqual([name]);
      expect(service.depends_on?.kafka?.condition).toBe('service_healthy');
      expect(service.depends_on?.registry?.condition).toBe('service_healthy');
      const env = Object.fromEntries(Object.entries(service.environment ?? {}).map(([key, value]) => [key, interpolate(String(value))]));
      const { config, unknown } = serviceConfig(name, env);
      expect(unknown, `${name}: variables the service does not read`).toEqual([]);
      for (const broker of config.KAFKA_BROKERS as string[]) expect(kafkaAdvertised).toContain(`://${broker}`);
      const registryUrl = new URL(config.SCHEMA_REGISTRY_URL as string);
      expect(registryUrl.hostname).toBe('registry');
      expect(registryUrl.pathname).toBe('/apis/ccompat/v7');
      // Its metrics port is published, and Prometheus's health check (the image's HEALTHCHECK) reads METRICS_PORT.
      expect(service.ports).toContain(`127.0.0.1:${config.METRICS_PORT}:${config.METRICS_PORT}`);
      // The image's stop grace must outlast a clean shutdown (commit the batch in flight, leave the group).
      expect(Number.parseInt(service.stop_grace_period ?? '10', 10)).toBeGreaterThanOrEqual(30);
    }
    expect(() => serviceConfig('fraud', { FRAUD_THRESHOLD: '2' })).toThrow(/FRAUD_THRESHOLD/);
  });

  it('runs Prometheus with deploy/prometheus and its rules, scraping each service on its metrics port, and Grafana with the dashboards', () => {
    const { services } = compose();
    const prometheus = services.prometheus!;
    const mounts = prometheus.volumes!.map((volume) => volume.split(':'));
    expect(mounts).toContainEqual(['./deploy/prometheus/prometheus.yml', '/etc/prometheus/prometheus.yml', 'ro']);
    expect(mounts).toContainEqual(['./deploy/prometheus/rules', '/etc/prometheus/rules', 'ro']);
    expect(prometheus.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    const config = loadYamlDocument<{ rule_files: string[]; scrape_configs: { job_name: string; static_configs: { targets: string[]; labels: { service: string } }[] }[] }>(
      join(REPOSITORY, 'deploy/prometheus/prometheus.yml'),
    );
    expect(config.rule_files).toEqual(['rules/*.yml']);
    const job = config.scrape_configs.find((scrape) => scrape.job_name === 'sluice')!;
    const targets = Object.fromEntries(job.static_configs.map((entry) => [entry.labels.service, entry.targets]));
    expect(Object.keys(targets).sort()).toEqual([...SLUICE].sort());
    for (const name of SLUICE) {
      const env = Object.fromEntries(Object.entries(services[name]!.environment ?? {}).map(([key, value]) => [key, interpolate(String(value))]));
      expect(targets[name]).toEqual([`${name}:${serviceConfig(name, env).config.METRICS_PORT}`]);
    }
    // Every file or directory compose mounts from the repository exists.
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('./')) expect(existsSync(join(REPOSITORY, source)), `${name}: ${source}`).toBe(true);
        else expect(Object.keys(compose().volumes ?? {}), `${name}: named volume ${source}`).toContain(source);
      }
    }
    expect(services.grafana!.depends_on?.prometheus?.condition).toBe('service_healthy');
  });
});
