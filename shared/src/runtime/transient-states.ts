/**
 * Broker states a client passes through and leaves by itself: kafkajs retries
 * the request, and a consumer that crashes on one is restarted (recovery.ts).
 * kafkajs logs each refused request at error level (`Response GroupCoordinator`,
 * `Response InitProducerId`, with the broker's reason as `error`): a fresh
 * stack prints dozens of them while its coordinators load. Such a line is at
 * debug, and a state that lasts past a deadline is reported once, at error,
 * saying what to check (TransientStateWatch). kafkajs's log lines carry the
 * broker's reason only as text, so the states are recognised by it.
 */
export interface TransientState {
  readonly name: string;
  /** Text of the kafkajs line or of its `error` field. */
  readonly patterns: readonly string[];
  /** Said when a spell outlasts the deadline; none when the code that waits on the state reports a lasting one itself. */
  readonly whatToDo?: string;
}

export const TRANSIENT_STATES: readonly TransientState[] = [
  {
    name: 'broker unreachable',
    patterns: [
      'ECONNREFUSED',
      'ECONNRESET',
      'Connection timeout',
      'Connection error',
      'Closed connection',
      'Failed to connect to seed broker',
      'Failed to connect to broker, reconnecting',
      'The server disconnected before a response was received',
    ],
    whatToDo: 'check KAFKA_BROKERS (and TLS/SASL settings) and that the brokers are running',
  },
  {
    // A fresh broker loading __consumer_offsets and __transaction_state, a coordinator moving after a broker restart, a rebalance.
    name: 'group or transaction coordinator unavailable',
    patterns: [
      'The group coordinator is not available',
      'This is not the correct coordinator',
      "The coordinator is loading and hence can't process requests",
      'The coordinator is not aware of this member',
      'The group is rebalancing',
    ],
    whatToDo: "check the brokers' logs: the partitions of __consumer_offsets and __transaction_state need a leader (kafka-topics --describe)",
  },
  {
    // Leadership still moving to a new topic's partitions; metadata of a topic created a moment ago on another node.
    name: 'partition leadership unsettled',
    patterns: ['is not the leader for that topic-partition', 'There is no leader for this topic-partition', 'This server does not host this topic-partition'],
    whatToDo: "check that every broker is up and each partition of the service's topics has a leader (kafka-topics --describe)",
  },
  {
    // Four services creating the same topics at once (topics.ts ensureTopics, which reports a lasting failure itself).
    name: 'topic creation race',
    patterns: ['Topic creation errors', 'Topic with this name already exists'],
  },
  {
    // The previous transaction of a transactional id still being completed: after a restart (the new owner's
    // InitProducerId waits for the old one's abort), or between two commits (a task's next transaction starting
    // while the last one's markers are written). No deadline: a service's dozen tasks each meet the latter now and
    // then, healed within milliseconds, and together they looked like one spell that never ends (bench:latency,
    // 2026-12-02: 71 refusals in 60 s in ingest, 37 in 62 s in the learner, each reported at error as a stuck
    // transaction while every score arrived). A transaction that really does not complete fails its batch once
    // kafkajs's retries and the processor's (transaction-writer.ts) are spent, and the processor reports that.
    name: 'previous transaction completing',
    patterns: ['another concurrent operation on the same transaction'],
  },
  {
    // A task's producer replaced by the partition's next owner (a rebalance, or this process's own new task): the
    // processor discards the fenced task and logs that itself.
    name: 'producer fenced',
    patterns: ['Producer attempted an operation with an old epoch', 'There is a newer producer with the same transactionalId'],
    whatToDo: 'another instance keeps taking over this transactional id: check that no two deployments share a group id',
  },
  {
    // kafkajs's consumer crashing and restarting: recovery.ts logs the crash (with its reason) at warn, and gives up at its deadline.
    name: 'consumer restarting',
    patterns: ['Crash: ', 'Restarting the consumer in'],
  },
];

/** The transient state a kafkajs line reports, if any. */
export function transientStateOf(message: string, error?: unknown): TransientState | undefined {
  const text = `${message} ${typeof error === 'string' ? error : ''}`;
  return TRANSIENT_STATES.find((state) => state.patterns.some((pattern) => text.includes(pattern)));
}

export interface LastingState {
  state: TransientState & { whatToDo: string };
  /** Since the first line of this spell. */
  seconds: number;
  lines: number;
}

interface Spell {
  since: number;
  last: number;
  lines: number;
  reported: boolean;
}

/**
 * Spells of each transient state: a spell goes on while lines of the state
 * keep coming, at most `quietMs` apart (kafkajs retries back off to 30 s at
 * most), and ends, healed, once none has come for that long. `observe` answers
 * a LastingState once per spell, for the first line past `deadlineMs`, of a
 * state that says what to do: the caller reports it as an error; every other
 * line is debug.
 */
export class TransientStateWatch {
  private readonly spells = new Map<string, Spell>();

  constructor(
    private readonly deadlineMs = 60_000,
    private readonly quietMs = 35_000,
  ) {}

  observe(state: TransientState, now: number): LastingState | undefined {
    let spell = this.spells.get(state.name);
    if (spell === undefined || now - spell.last > this.quietMs) {
      spell = { since: now, last: now, lines: 0, reported: false };
      this.spells.set(state.name, spell);
    }
    spell.last = now;
    spell.lines += 1;
    if (spell.reported || state.whatToDo === undefined || now - spell.since < this.deadlineMs) return undefined;
    spell.reported = true;
    return { state: { ...state, whatToDo: state.whatToDo }, seconds: Math.round((now - spell.since) / 1000), lines: spell.lines };
  }
}
