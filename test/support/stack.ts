import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface StackEndpoints {
  brokers: string;
  registryUrl: string;
}

const stackScript = fileURLToPath(new URL('../../deploy/local/stack.sh', import.meta.url));

function runStack(command: string): string {
  return execFileSync('bash', [stackScript, command], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

/**
 * Starts the local stack (deploy/local/stack.sh) unless it already runs, from
 * empty data, and stops it afterwards only if this call started it.
 */
export async function startLocalStack(): Promise<{ endpoints: StackEndpoints; stop: () => Promise<void> }> {
  const alreadyRunning = stackRunning();
  // Every test makes its own topics; a stack this run starts begins empty, so runs do not pile up partitions
  // (and the broker's open files) from earlier runs.
  if (!alreadyRunning) runStack('reset');
  runStack('start');
  const env = Object.fromEntries(
    runStack('env')
      .trim()
      .split('\n')
      .map((line) => line.replace(/^export /, '').split('=') as [string, string]),
  );
  return {
    endpoints: { brokers: env.KAFKA_BROKERS!, registryUrl: env.SCHEMA_REGISTRY_URL! },
    stop: async () => {
      if (!alreadyRunning) runStack('stop');
    },
  };
}

function stackRunning(): boolean {
  try {
    execFileSync('bash', [stackScript, 'running'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
