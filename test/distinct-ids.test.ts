import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DistinctIds } from '../src/modules/events/distinct-ids.js';

/** What DistinctIds must answer, with a Map: per list, the ids new to its mark; in the end, the distinct ids. */
function reference(lists: { ids: string[]; mark: number }[]): { marked: number[]; size: number } {
  const markOf = new Map<string, number>();
  const marked = lists.map(({ ids, mark }) => {
    let fresh = 0;
    for (const id of ids) {
      if (markOf.get(id) === mark) continue;
      markOf.set(id, mark);
      fresh++;
    }
    return fresh;
  });
  return { marked, size: markOf.size };
}

// Short ids from a small alphabet: many repeats, equal hashes of different lengths, shared prefixes.
const id = fc.stringMatching(/^[ab_-]{1,4}$|^[A-Za-z0-9_-]{1,40}$/);
const lists = fc.array(fc.record({ ids: fc.array(id, { minLength: 1, maxLength: 60 }), mark: fc.integer({ min: 0, max: 5 }) }), { maxLength: 40 });

describe('DistinctIds', () => {
  it('counts exactly what a Map counts, per mark and in all, however its table grows', () => {
    fc.assert(
      fc.property(lists, fc.integer({ min: 0, max: 5000 }), (input, expected) => {
        const distinct = new DistinctIds(expected);
        const marked = input.map(({ ids, mark }) => distinct.addAll(ids.join(' '), mark));
        expect({ marked, size: distinct.size }).toEqual(reference(input));
      }),
      { numRuns: 500 },
    );
  });

  it('keeps 100,000 distinct ids apart in a table sized for 10', () => {
    const distinct = new DistinctIds(10);
    const ids = Array.from({ length: 100_000 }, (_, i) => `visitor-${i.toString(36)}`);
    expect(distinct.addAll(ids.join(' '), 1)).toBe(100_000);
    expect(distinct.addAll(ids.slice(0, 500).join(' '), 1)).toBe(0);
    expect(distinct.addAll(ids.slice(0, 500).join(' '), 2)).toBe(500);
    expect(distinct.size).toBe(100_000);
  });

  it('compares ids, not only their hashes', () => {
    // "v7pwu" and "ve5fa" have the same 32-bit FNV-1a hash.
    const distinct = new DistinctIds();
    expect(distinct.addAll('v7pwu ve5fa v7pwu ve5fa', 0)).toBe(2);
    expect(distinct.addAll('ve5fa', 1)).toBe(1);
    expect(distinct.size).toBe(2);
  });
});
