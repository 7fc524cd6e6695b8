#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { SluiceError } from '@sluice/shared';
import { aclsCommand } from './commands/acls.js';
import { demoCommand } from './commands/demo.js';
import { modelCommand } from './commands/model.js';
import { replayCommand } from './commands/replay.js';
import { simulateCommand } from './commands/simulate.js';
import { tailAlertsCommand } from './commands/tail.js';
import { topicsCommand } from './commands/topics.js';

const integer = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`${name} must be a whole number ≥ 0`);
  return parsed;
};
const fraction = (value: string) => {
  const parsed = Number(value);
  if (!(parsed >= 0 && parsed <= 1)) throw new InvalidArgumentError('must be between 0 and 1');
  return parsed;
};
const positive = (value: string) => {
  const parsed = Number(value);
  if (!(parsed > 0)) throw new InvalidArgumentError('must be a positive number');
  return parsed;
};

const program = new Command('sluice-cli')
  .description('Sluice command-line tool. Kafka and the schema registry come from KAFKA_BROKERS, SCHEMA_REGISTRY_URL and SLUICE_TOPIC_PREFIX, as for the services.')
  .showHelpAfterError();

const handbookPopulation = { customers: 5000, terminals: 10000, days: 183 };
const populationOptions = (command: Command, defaults = handbookPopulation) =>
  command
    .option('--customers <n>', 'customers', integer('customers'), defaults.customers)
    .option('--terminals <n>', 'terminals', integer('terminals'), defaults.terminals)
    .option('--days <n>', 'days of event time from 2018-04-01', integer('days'), defaults.days)
    .option('--seed <n>', 'random seed (same seed, same stream)', integer('seed'), 0)
    .option('--radius <r>', 'customers use terminals within this distance', positive, 5)
    .option('--label-delay-days <d>', 'labels arrive this long after the transaction (event time)', positive, 7)
    .option('--label-fraction <f>', 'share of genuine transactions that get a label (frauds always do)', fraction, 1)
    .option('--id-prefix <prefix>', 'prefix for transaction ids (keeps runs apart)', '');

populationOptions(program.command('simulate').description('Generate the Fraud Detection Handbook stream (transactions and delayed labels) into Kafka or an NDJSON file'))
  .option('--out <file>', 'write NDJSON to this file instead of Kafka')
  .option('--rate <n>', 'events per second (0: as fast as possible)', integer('rate'), 0)
  .option('--no-progress', 'no progress bar')
  .action((options) => simulateCommand(options));

program
  .command('acls')
  .description('Kafka ACLs of deploy/acl/acls.json for SLUICE_TOPIC_PREFIX: apply (as a super user), show, or markdown (deploy/README.md)')
  .argument('<action>', 'apply, show or markdown')
  .option('--file <file>', 'another ACL definition')
  .action((action: string, options: { file?: string }) => {
    if (!['apply', 'show', 'markdown'].includes(action)) throw new InvalidArgumentError(`unknown action "${action}": apply, show or markdown`);
    return aclsCommand(action, options);
  });

program
  .command('replay')
  .description('Produce an NDJSON file into Kafka: simulated events go to their raw topic, other lines to --topic')
  .argument('<file>', 'NDJSON file')
  .option('--topic <topic>', 'topic for lines that are not simulated events')
  .option('--rate <n>', 'lines per second (0: as fast as possible)', integer('rate'), 0)
  .option('--no-progress', 'no progress bar')
  .action((file: string, options) => replayCommand(file, options));

program
  .command('tail')
  .description('Follow a topic; today: alerts')
  .argument('<what>', 'what to follow: alerts')
  .option('--json', 'one JSON object per line instead of text')
  .option('--from-beginning', 'start from the first alert instead of new ones')
  .action((what: string, options) => {
    if (what !== 'alerts') throw new InvalidArgumentError(`cannot tail "${what}": only "alerts"`);
    return tailAlertsCommand({ json: Boolean(options.json), fromBeginning: Boolean(options.fromBeginning) });
  });

program
  .command('topics')
  .description("List the pipeline's topics with partitions, messages and consumer lag")
  .option('--json', 'JSON output')
  .option('--create', "first create the missing ones (the union of the services' topologies), where the services may not create topics")
  .action((options) => topicsCommand({ json: Boolean(options.json), create: Boolean(options.create) }));

program
  .command('model')
  .description('Show the current model: version, rolling metrics, largest weights')
  .option('--json', 'JSON output')
  .option('--top <n>', 'how many weights', integer('top'), 8)
  .action((options) => modelCommand({ json: Boolean(options.json), top: options.top }));

populationOptions(
  program
    .command('demo')
    .description('Start the four services, stream a simulated population through them and show alerts as they arrive')
    .option('--rate <n>', 'events per second into the pipeline (two cores sustain ~1,500 through all four services)', integer('rate'), 1500)
    .option('--alerts <n>', 'alert lines to print (the summary keeps counting)', integer('alerts'), 40)
    .option('--keep-running', 'leave the services running after the stream ends, until Ctrl-C'),
  { customers: 500, terminals: 1000, days: 60 },
)
  .action((options) => demoCommand(options));

program.parseAsync().catch((error: unknown) => {
  if (error instanceof SluiceError) process.stderr.write(`sluice-cli: ${error.reason} [${error.code}]\n`);
  else process.stderr.write(`sluice-cli: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
