/**
 * deploy/prometheus: the configuration and rules load (promtool check), their
 * unit tests pass (promtool test rules), and a broken rule makes those tests
 * fail; every expression reads metrics and labels the services really expose.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricCatalogue, seriesCatalogue } from '../support/metric-catalogue.js';
import { ensurePrometheus, promtool, PROMETHEUS_DIR, RULES_DIR } from '../support/prometheus.js';
import { parsePromql, unknownReferences, withRecordingRules } from '../support/promql.js';
import { loadYamlDocument } from '../support/python-tools.js';

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface RuleTestFile {
  rule_files: string[];
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[]; promql_expr_test?: { expr: string }[] }[];
}

const TESTS_DIR = join(PROMETHEUS_DIR, 'tests');
const ruleFiles = () => readdirSync(RULES_DIR).filter((name) => name.endsWith('.yml')).map((name) => join(RULES_DIR, name));
const testFiles = () => readdirSync(TESTS_DIR).filter((name) => name.endsWith('.test.yml')).map((name) => join(TESTS_DIR, name));
const allRules = () => ruleFiles().flatMap((file) => loadYamlDocument<RuleFile>(file).groups.flatMap((group) => group.rules));

const scratch: string[] = [];
afterAll(() => {
  for (const directory of scratch) rmSync(directory, { recursive: true, force: true });
});

describe('deploy/prometheus', () => {
  beforeAll(() => {
    ensurePrometheus();
  });

  it('promtool accepts the configuration and the rules', () => {
    const config = promtool(['check', 'config', join(PROMETHEUS_DIR, 'prometheus.yml')]);
    expect(config.status, config.stdout + config.stderr).toBe(0);
    const rules = promtool(['check', 'rules', ...ruleFiles()]);
    expect(rules.status, rules.stdout + rules.stderr).toBe(0);
    // The configuration loads every rule file (its rule_files glob resolves next to it, as mounted in compose).
    for (const file of ruleFiles()) expect(config.stdout + config.stderr).toContain(file.slice(PROMETHEUS_DIR.length));
  });

  it('promtool test rules: every unit test passes', () => {
    const result = promtool(['test', 'rules', ...testFiles()]);
    expect(result.status, result.stdout + result.stderr).toBe(0);
    expect(result.stdout + result.stderr).not.toMatch(/FAILED/);
  });

  it('the unit tests catch a broken rule (a threshold changed, a metric misnamed)', () => {
    const mutations: [string, string, string][] = [
      ['sluice-alerts.yml', 'sluice:fraud_end_to_end_latency_seconds:p99_5m > 5', 'sluice:fraud_end_to_end_latency_seconds:p99_5m > 50'],
      ['sluice-alerts.yml', 'up{job="sluice"} == 0', 'up{job="sluice-services"} == 0'],
      ['sluice-recording.yml', 'rate(sluice_dead_letters_total[5m])', 'rate(sluice_dead_letter_total[5m])'],
    ];
    for (const [file, from, to] of mutations) {
      const copy = mkdtempSync(join(tmpdir(), 'sluice-rules-'));
      scratch.push(copy);
      cpSync(PROMETHEUS_DIR, copy, { recursive: true });
      const path = join(copy, 'rules', file);
      const text = readFileSync(path, 'utf8');
      expect(text, `${file} still contains ${from}`).toContain(from);
      writeFileSync(path, text.replace(from, to));
      const result = promtool(['test', 'rules', ...readdirSync(join(copy, 'tests')).map((name) => join(copy, 'tests', name))]);
      expect(result.status, `${file}: ${from} → ${to} went unnoticed`).not.toBe(0);
    }
  });

  it('has the alerts the pipeline needs, each with a severity, a summary, a description, and unit tests that see it fire and stay quiet', () => {
    const alerts = allRules().filter((rule) => rule.alert);
    const names = alerts.map((rule) => rule.alert!);
    for (const needed of ['SluiceServiceDown', 'SluiceConsumerLagGrowing', 'SluiceDeadLetterRateHigh', 'SluiceLearnerSnapshotStale', 'SluiceFraudModelStale', 'SluiceEndToEndLatencyHigh']) {
      expect(names).toContain(needed);
    }
    const tests = testFiles().flatMap((file) => loadYamlDocument<RuleTestFile>(file).tests);
    for (const alert of alerts) {
      expect(['critical', 'warning', 'info'], alert.alert).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary, alert.alert).toBeTruthy();
      expect((alert.annotations?.description ?? '').length, alert.alert).toBeGreaterThan(80);
      const cases = tests.flatMap((test) => test.alert_rule_test ?? []).filter((test) => test.alertname === alert.alert);
      expect(cases.some((test) => test.exp_alerts.length > 0), `${alert.alert}: a unit test where it fires`).toBe(true);
      expect(cases.some((test) => test.exp_alerts.length === 0), `${alert.alert}: a unit test where it does not`).toBe(true);
    }
  });

  it('recording rules follow level:metric:operations, and each is unit-tested', () => {
    const records = allRules().filter((rule) => rule.record).map((rule) => rule.record!);
    expect(records.length).toBeGreaterThan(10);
    expect(new Set(records).size).toBe(records.length);
    const tested = testFiles()
      .flatMap((file) => loadYamlDocument<RuleTestFile>(file).tests)
      .flatMap((test) => test.promql_expr_test ?? [])
      .flatMap((test) => parsePromql(test.expr).selectors.map((selector) => selector.name));
    for (const record of records) {
      expect(record).toMatch(/^[a-z_]+:sluice_[a-z0-9_]+:[a-z0-9_]+$|^sluice:[a-z0-9_]+:[a-z0-9_]+$/);
      expect(tested, `${record}: no promql_expr_test reads it`).toContain(record);
    }
  });

  it('every expression reads metrics and labels the services expose', async () => {
    const known = seriesCatalogue(await metricCatalogue());
    const rules = allRules();
    const withRecords = withRecordingRules(known, rules.filter((rule) => rule.record).map((rule) => ({ record: rule.record!, expr: rule.expr })));
    const problems = rules.flatMap((rule) => unknownReferences(rule.expr, withRecords).map((problem) => `${rule.record ?? rule.alert}: ${problem}`));
    expect(problems).toEqual([]);
    // Annotations may only use labels the alert's series carry.
    for (const rule of rules.filter((candidate) => candidate.alert)) {
      const used = [...Object.values(rule.annotations ?? {}).join(' ').matchAll(/\$labels\.([a-zA-Z_]+)/g)].map((match) => match[1]!);
      const available = new Set(parsePromql(rule.expr).selectors.flatMap((selector) => [...(withRecords.get(selector.name ?? '') ?? [])]));
      for (const label of used) expect(available, `${rule.alert} annotation uses $labels.${label}`).toContain(label);
    }
  });

  it('the checks above would see a wrong name', async () => {
    const known = seriesCatalogue(await metricCatalogue());
    expect(unknownReferences('sum by (entity) (rate(sluice_features_events_total[5m]))', known)).toEqual(['grouping by entity, which none of sum by (entity) (rate(sluice_features_events_total[5m])) carries']);
    expect(unknownReferences('rate(sluice_features_late_events_total[5m])', known)).toEqual(['unknown metric sluice_features_late_events_total']);
    expect(unknownReferences('sluice_learner_roc_auc{stage="x"}', known)).toEqual(['sluice_learner_roc_auc has no label stage']);
    expect(unknownReferences('histogram_quantile(0.99, sum by (le) (rate(sluice_fraud_end_to_end_latency_seconds_bucket[5m])))', known)).toEqual([]);
    expect(parsePromql('sum without (instance) (a_total{x="1"} offset 5m) / on (service) group_left (topic) b').selectors).toEqual([
      { name: 'a_total', labels: ['x'] },
      { name: 'b', labels: [] },
    ]);
  });
});

describe('deploy/README.md', () => {
  it('explains every metric the services declare and every alert', async () => {
    const readme = readFileSync(join(PROMETHEUS_DIR, '..', 'README.md'), 'utf8');
    const declared = (await metricCatalogue()).filter((family) => family.source !== 'prom-client default metrics');
    expect(declared.length).toBeGreaterThan(30);
    expect(declared.filter((family) => !readme.includes(`\`${family.name}\``)).map((family) => family.name)).toEqual([]);
    const alerts = allRules().filter((rule) => rule.alert).map((rule) => rule.alert!);
    expect(alerts.filter((alert) => !readme.includes(`\`${alert}\``))).toEqual([]);
  });
});
