import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { serviceEnv, uniquePrefix } from '../support/kafka.js';

const cli = fileURLToPath(new URL('../../tools/cli/src/main.ts', import.meta.url));

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=sluice-source', '--import', 'tsx', cli, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolve({ code, output: stripVTControlCharacters(output) }));
  });
}

describe('the quick-start demo', () => {
  it('runs the four services on a simulated stream and ends with alerts that are mostly true frauds, and a report', async () => {
    // The demo names its own run prefix under the configured one.
    const env = serviceEnv(uniquePrefix('demo'), { LOG_LEVEL: 'warn', INGEST_HTTP_PORT: '0' });
    const { code, output } = await run(['demo', '--days', '30', '--customers', '300', '--terminals', '600', '--rate', '2500', '--alerts', '5'], env);
    expect(code, output.slice(-3000)).toBe(0);
    expect(output).toContain('all four services ready');
    // Nothing is wrong here, so no service says so: the demo shows every error-level line a service logs as `[name] …`.
    expect(output).not.toMatch(/^\[(ingest|features|learner|fraud)\] /m);
    expect(output).toMatch(/ALERT tx \d+ customer \d+ terminal \d+ amount/);
    const report = output.slice(output.indexOf('──── Sluice demo report ────'));
    const transactions = Number(/transactions\s+(\d+), of which (\d+) frauds/.exec(report)?.[1]);
    const frauds = Number(/transactions\s+\d+, of which (\d+) frauds/.exec(report)?.[1]);
    const alerts = /alerts\s+(\d+): (\d+) on true frauds/.exec(report);
    expect(transactions).toBeGreaterThan(10_000);
    expect(alerts, report).not.toBeNull();
    const [total, onFraud] = [Number(alerts![1]), Number(alerts![2])];
    expect(total).toBeGreaterThan(20);
    // A random alert would hit a fraud at the stream's fraud rate; the pipeline must do several times better.
    expect(onFraud / total).toBeGreaterThan(Math.min(0.9, (3 * frauds) / transactions));
    expect(report).toMatch(/model\s+fraud-lr v\d+, trained on \d+ labels; rolling AUC 0\.\d+/);
    const auc = Number(/rolling AUC (0\.\d+)/.exec(report)?.[1]);
    expect(auc).toBeGreaterThan(0.6);
  });
});
