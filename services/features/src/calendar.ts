/**
 * Calendar features of an event time, in UTC or in an IANA time zone.
 * UTC is plain arithmetic (hot path); other zones go through Intl, cached per
 * quarter-hour of UTC time: every zone offset in use is a multiple of 15
 * minutes, so local hour and weekday cannot change inside such a quarter.
 */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const QUARTER_MS = 900_000;

export interface LocalTime {
  /** 0 = Sunday … 6 = Saturday. */
  weekday: number;
  /** 0 … 23. */
  hour: number;
}

export const calendarParts = {
  /** Saturday or Sunday → 1, else 0 (the handbook's TX_DURING_WEEKEND). */
  weekend: (local: LocalTime) => (local.weekday === 0 || local.weekday === 6 ? 1 : 0),
  /** Hour ≤ 6, i.e. before 07:00 → 1, else 0 (the handbook's TX_DURING_NIGHT). */
  night: (local: LocalTime) => (local.hour <= 6 ? 1 : 0),
  hour: (local: LocalTime) => local.hour,
  weekday: (local: LocalTime) => local.weekday,
} satisfies Record<string, (local: LocalTime) => number>;

export type CalendarPart = keyof typeof calendarParts;

function utc(time: number): LocalTime {
  const day = Math.floor(time / DAY_MS);
  // 1970-01-01 was a Thursday.
  return { weekday: (((day + 4) % 7) + 7) % 7, hour: Math.floor((time - day * DAY_MS) / HOUR_MS) };
}

const weekdays: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function zoned(timeZone: string): (time: number) => LocalTime {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: 'numeric', hourCycle: 'h23' });
  let cachedQuarter = Number.NaN;
  let cached: LocalTime = { weekday: 0, hour: 0 };
  return (time) => {
    const quarter = Math.floor(time / QUARTER_MS);
    if (quarter !== cachedQuarter) {
      let weekday = 0;
      let hour = 0;
      for (const part of format.formatToParts(time)) {
        if (part.type === 'weekday') weekday = weekdays[part.value] ?? 0;
        else if (part.type === 'hour') hour = Number(part.value);
      }
      cachedQuarter = quarter;
      cached = { weekday, hour };
    }
    return cached;
  };
}

/** A function from epoch milliseconds to local weekday and hour in `timeZone` (UTC when absent). */
export function localTimeIn(timeZone: string | undefined): (time: number) => LocalTime {
  return timeZone === undefined || timeZone === 'UTC' ? utc : zoned(timeZone);
}
