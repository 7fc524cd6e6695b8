/**
 * deploy/grafana: the provisioned dashboard parses, lays out, and shows what
 * the pipeline needs to be watched by, with PromQL that reads only metrics
 * and labels the services expose (or recording rules of deploy/prometheus).
 * The monitoring integration test runs every one of these queries against a
 * live Prometheus.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { metricCatalogue, REPOSITORY, seriesCatalogue } from '../support/metric-catalogue.js';
import { RULES_DIR } from '../support/prometheus.js';
import { parsePromql, unknownReferences, withoutGrafanaVariables, withRecordingRules } from '../support/promql.js';
import { loadYamlDocument } from '../support/python-tools.js';

interface Target {
  expr?: string;
  legendFormat?: string;
  refId: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string }[] };
}
interface RuleFile {
  groups: { rules: { record?: string; expr: string }[] }[];
}

const GRAFANA = join(REPOSITORY, 'deploy/grafana');
const dashboardFiles = readdirSync(join(GRAFANA, 'dashboards')).filter((name) => name.endsWith('.json'));

function flatten(panels: Panel[]): Panel[] {
  return panels.flatMap((panel) => [panel, ...flatten(panel.panels ?? [])]);
}

describe('deploy/grafana', () => {
  let known: Map<string, Set<string>>;
  let recordingRules: { record: string; expr: string }[];
  beforeAll(async () => {
    recordingRules = readdirSync(RULES_DIR)
      .filter((name) => name.endsWith('.yml'))
      .flatMap((name) => loadYamlDocument<RuleFile>(join(RULES_DIR, name)).groups.flatMap((group) => group.rules))
      .filter((rule) => rule.record)
      .map((rule) => ({ record: rule.record!, expr: rule.expr }));
    known = withRecordingRules(seriesCatalogue(await metricCatalogue()), recordingRules);
  });

  it('has a dashboard', () => {
    expect(dashboardFiles).toContain('sluice-overview.json');
  });

  for (const file of dashboardFiles) {
    describe(file, () => {
      const dashboard = JSON.parse(readFileSync(join(GRAFANA, 'dashboards', file), 'utf8')) as Dashboard;
      const panels = flatten(dashboard.panels);
      const targets = panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target })));

      it('is a dashboard with unique panel ids, laid out on the 24-column grid without overlaps', () => {
        expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
        expect(dashboard.title).toBeTruthy();
        expect(new Set(panels.map((panel) => panel.id)).size).toBe(panels.length);
        const cells = new Map<string, string>();
        for (const panel of dashboard.panels) {
          const { x, y, w, h } = panel.gridPos;
          expect(x >= 0 && w > 0 && x + w <= 24 && h > 0, `${panel.title} gridPos`).toBe(true);
          for (let row = y; row < y + h; row++) {
            for (let column = x; column < x + w; column++) {
              const key = `${row}/${column}`;
              expect(cells.get(key), `${panel.title} overlaps ${cells.get(key)}`).toBeUndefined();
              cells.set(key, panel.title);
            }
          }
        }
      });

      it('asks for its Prometheus through a datasource variable', () => {
        const variable = dashboard.templating.list.find((entry) => entry.type === 'datasource');
        expect(variable?.query).toBe('prometheus');
        for (const { panel, target } of targets) {
          expect(target.datasource ?? panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: `\${${variable!.name}}` });
        }
      });

      it('queries only metrics and labels the services expose, or recording rules', () => {
        expect(targets.length).toBeGreaterThan(20);
        const problems: string[] = [];
        for (const { panel, target } of targets) {
          expect(target.expr, `${panel.title} ${target.refId}`).toBeTruthy();
          for (const problem of unknownReferences(withoutGrafanaVariables(target.expr!), known, target.legendFormat ?? '')) problems.push(`${panel.title}: ${problem}`);
        }
        expect(problems).toEqual([]);
      });

      it('shows throughput per stage, lag, latency percentiles, dead letters by reason, alerts, model versions and rolling AUC', () => {
        // What each panel reads, with recording rules followed down to the services' own metrics.
        const definitions = new Map(recordingRules.map((rule) => [rule.record, rule.expr]));
        const reads = (expr: string): string[] =>
          parsePromql(withoutGrafanaVariables(expr)).selectors.flatMap((selector) => {
            const definition = definitions.get(selector.name ?? '');
            return [selector.name ?? '', ...(definition ? reads(definition) : [])];
          });
        const panelReading = (metric: string, extra: (panel: Panel, exprs: string) => boolean = () => true) =>
          panels.filter((panel) => {
            const exprs = (panel.targets ?? []).map((target) => target.expr ?? '').join('\n');
            return (panel.targets ?? []).some((target) => reads(target.expr ?? '').includes(metric)) && extra(panel, exprs);
          });
        expect(panelReading('sluice_messages_consumed_total', (panel, exprs) => /\bservice\b/.test(exprs) || panel.targets!.some((t) => t.legendFormat?.includes('{{service}}'))).length).toBeGreaterThan(0);
        expect(panelReading('sluice_consumer_lag_messages').length).toBeGreaterThan(0);
        const latency = panelReading('sluice_fraud_end_to_end_latency_seconds_bucket');
        const quantiles = new Set(latency.flatMap((panel) => (panel.targets ?? []).flatMap((target) => reads(target.expr ?? '')).map((name) => /p(50|95|99)/.exec(name)?.[1]).filter(Boolean)));
        expect(quantiles).toEqual(new Set(['50', '95', '99']));
        expect(panelReading('sluice_dead_letters_total', (panel) => panel.targets!.some((target) => target.legendFormat?.includes('{{code}}'))).length).toBeGreaterThan(0);
        expect(panelReading('ALERTS').length).toBeGreaterThan(0);
        expect(panelReading('sluice_learner_model_version').length).toBeGreaterThan(0);
        expect(panelReading('sluice_fraud_model_version').length).toBeGreaterThan(0);
        expect(panelReading('sluice_learner_roc_auc').length).toBeGreaterThan(0);
      });
    });
  }

  it('is provisioned where docker-compose.yml mounts it, with a datasource pointing at the compose Prometheus', () => {
    const provider = loadYamlDocument<{ providers: { type: string; options: { path: string } }[] }>(join(GRAFANA, 'provisioning/dashboards/sluice.yml')).providers[0]!;
    const datasource = loadYamlDocument<{ datasources: { type: string; url: string; uid: string }[] }>(join(GRAFANA, 'provisioning/datasources/prometheus.yml')).datasources[0]!;
    const compose = loadYamlDocument<{ services: Record<string, { volumes?: string[]; ports?: string[] }> }>(join(REPOSITORY, 'docker-compose.yml'));
    const grafanaMounts = compose.services.grafana!.volumes!.map((volume) => volume.split(':'));
    expect(provider.type).toBe('file');
    expect(grafanaMounts).toContainEqual(['./deploy/grafana/dashboards', provider.options.path, 'ro']);
    expect(grafanaMounts).toContainEqual(['./deploy/grafana/provisioning', '/etc/grafana/provisioning', 'ro']);
    expect(datasource.type).toBe('prometheus');
    const url = new URL(datasource.url);
    expect(Object.keys(compose.services)).toContain(url.hostname);
    expect(compose.services[url.hostname]!.ports!.some((port) => port.endsWith(`:${url.port}`))).toBe(true);
  });
});
