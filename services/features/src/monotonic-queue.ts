/**
 * A monotonic queue for sliding-window minima: (time, value) entries with
 * strictly increasing times and values, each entry the minimum of every point
 * at or after its time. The front is the window minimum; sliding drops fronts
 * at or before the window's far edge. Appending in time order is amortised
 * O(1); an out-of-order point (within grace, or a label) is placed by binary
 * search. Maxima use the same queue over negated values.
 *
 * Layout: one number array, [head, t0, v0, t1, v1, ...]; `head` indexes the
 * time of the first live entry, so dropping fronts does not move memory.
 */

export type MonotonicQueue = number[];

export function emptyQueue(): MonotonicQueue {
  return [1];
}

export function queueFront(queue: MonotonicQueue): number | undefined {
  const head = queue[0]!;
  return head < queue.length ? queue[head + 1] : undefined;
}

export function queueInsert(queue: MonotonicQueue, time: number, value: number): void {
  const head = queue[0]!;
  let end = queue.length;
  if (end === head || queue[end - 2]! < time) {
    while (end > head && queue[end - 1]! >= value) end -= 2;
    queue.length = end;
    queue.push(time, value);
    return;
  }
  // First entry at or after `time`.
  let low = 0;
  let high = (end - head) / 2;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (queue[head + 2 * mid]! < time) low = mid + 1;
    else high = mid;
  }
  const at = head + 2 * low;
  if (at < end && queue[at + 1]! <= value) return;
  const removeEnd = at < end && queue[at] === time ? at + 2 : at;
  let removeStart = at;
  while (removeStart > head && queue[removeStart - 1]! >= value) removeStart -= 2;
  queue.splice(removeStart, removeEnd - removeStart, time, value);
}

/** Drops entries at or before `edge` (the window's excluded far edge). */
export function queueEvict(queue: MonotonicQueue, edge: number): void {
  let head = queue[0]!;
  while (head < queue.length && queue[head]! <= edge) head += 2;
  if (head === queue.length) {
    queue.length = 1;
    queue[0] = 1;
  } else if (head > 32 && 2 * head > queue.length) {
    queue.splice(1, head - 1);
    queue[0] = 1;
  } else {
    queue[0] = head;
  }
}

export function clearQueue(queue: MonotonicQueue): void {
  queue.length = 1;
  queue[0] = 1;
}
