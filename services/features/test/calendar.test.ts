import { describe, expect, it } from 'vitest';
import { calendarParts, localTimeIn } from '../src/calendar.js';
import { prng } from './synthetic-stream.js';

describe('calendar features', () => {
  it('match Date in UTC for weekend (Saturday/Sunday) and night (hour <= 6)', () => {
    const random = prng(9);
    const local = localTimeIn(undefined);
    for (let k = 0; k < 5000; k++) {
      const time = Math.floor(random() * 4e12) - 1e12;
      const date = new Date(time);
      expect(calendarParts.weekend(local(time))).toBe(date.getUTCDay() === 0 || date.getUTCDay() === 6 ? 1 : 0);
      expect(calendarParts.night(local(time))).toBe(date.getUTCHours() <= 6 ? 1 : 0);
      expect(calendarParts.weekday(local(time))).toBe(date.getUTCDay());
    }
  });

  it('reads local time in a configured zone, across a DST change', () => {
    const newYork = localTimeIn('America/New_York');
    // Saturday 2024-01-06 05:30 UTC is 00:30 Saturday in New York (UTC−5); 04:30 UTC is Friday 23:30.
    expect(newYork(Date.UTC(2024, 0, 6, 5, 30))).toEqual({ weekday: 6, hour: 0 });
    expect(newYork(Date.UTC(2024, 0, 6, 4, 30))).toEqual({ weekday: 5, hour: 23 });
    // DST began 2024-03-10 at 07:00 UTC (02:00 EST became 03:00 EDT).
    expect(newYork(Date.UTC(2024, 2, 10, 6, 59)).hour).toBe(1);
    expect(newYork(Date.UTC(2024, 2, 10, 7, 0)).hour).toBe(3);
    // Kathmandu is UTC+5:45: 18:15 UTC on Sunday 2024-06-02 is Monday 00:00.
    const kathmandu = localTimeIn('Asia/Kathmandu');
    expect(kathmandu(Date.UTC(2024, 5, 2, 18, 14, 59, 999))).toEqual({ weekday: 0, hour: 23 });
    expect(kathmandu(Date.UTC(2024, 5, 2, 18, 15))).toEqual({ weekday: 1, hour: 0 });
  });
});
