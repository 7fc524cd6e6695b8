/**
 * A seeded synthetic transaction/label stream for the tests: handbook-like
 * customers and terminals, plus transactions placed exactly on window edges
 * and at the same millisecond as another, and labels arriving 7 days (or a bit
 * more) after their transaction.
 */

export const DAY = 86_400_000;
export const START = Date.UTC(2024, 0, 1);

/** mulberry32 */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Tx {
  kind: 'tx';
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  amount: number;
  event_time: number;
}

export interface Lb {
  kind: 'label';
  transaction_id: string;
  customer_id: string;
  terminal_id: string;
  tx_event_time: number;
  is_fraud: boolean;
  labeled_at: number;
}

export type StreamItem = Tx | Lb;

export interface StreamOptions {
  seed: number;
  transactions: number;
  customers: number;
  terminals: number;
  days: number;
}

export function generateStream(options: StreamOptions): { txs: Tx[]; labels: Lb[]; stream: StreamItem[] } {
  const random = prng(options.seed);
  const pick = (n: number): number => Math.floor(random() * n);
  const edgeDays = [1, 7, 8, 14, 30, 37];
  const txs: Tx[] = [];
  for (let i = 0; i < options.transactions; i++) {
    const previous = txs.length > 0 ? txs[pick(txs.length)]! : undefined;
    const roll = random();
    let customer = `C${pick(options.customers)}`;
    let terminal = `T${pick(options.terminals)}`;
    let time = START + Math.floor(random() * options.days * DAY);
    if (previous !== undefined && roll < 0.06) {
      // Exactly one window (or window + delay) after an earlier transaction of the same pair.
      customer = previous.customer_id;
      terminal = previous.terminal_id;
      time = previous.event_time + edgeDays[pick(edgeDays.length)]! * DAY;
    } else if (previous !== undefined && roll < 0.09) {
      customer = random() < 0.5 ? previous.customer_id : customer;
      terminal = random() < 0.5 ? previous.terminal_id : terminal;
      time = previous.event_time;
    }
    txs.push({
      kind: 'tx',
      transaction_id: `tx${i}`,
      customer_id: customer,
      terminal_id: terminal,
      amount: Math.round((5 + random() * 195) * 100) / 100,
      event_time: time,
    });
  }
  const labels: Lb[] = [];
  for (const tx of txs) {
    if (random() < 0.5) continue;
    const lateness = random() < 0.7 ? 7 * DAY : 7 * DAY + Math.floor(random() * 2 * DAY);
    labels.push({
      kind: 'label',
      transaction_id: tx.transaction_id,
      customer_id: tx.customer_id,
      terminal_id: tx.terminal_id,
      tx_event_time: tx.event_time,
      is_fraud: random() < 0.3,
      labeled_at: tx.event_time + lateness,
    });
  }
  const at = (item: StreamItem): number => (item.kind === 'tx' ? item.event_time : item.labeled_at);
  // Event-time order; at equal times labels first (a label known at t counts for a transaction at t).
  const stream: StreamItem[] = [...labels, ...txs].sort((a, b) => at(a) - at(b) || (a.kind === b.kind ? 0 : a.kind === 'label' ? -1 : 1));
  return { txs, labels, stream };
}
