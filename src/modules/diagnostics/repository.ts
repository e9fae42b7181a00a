import type { NamedStatement, RunStatement } from '../../db/client.js';

/** One (tag, hour, outcome) count gathered since the last flush. */
export interface TagCount {
  tagId: string;
  hour: Date;
  outcome: string;
  count: number;
  lastAt: Date;
}

export interface OutcomeTotal {
  outcome: string;
  count: number;
}

export interface TagActivity {
  lastBrowserEventAt: Date | null;
  lastServerEventAt: Date | null;
}

// Counts of tags deleted since they were counted are dropped by the join, so they cannot fail the others.
const ADD_COUNTS: NamedStatement = {
  name: 'marktag_add_tag_counts',
  text: `
    insert into tag_counts (tag_id, partner_id, hour, outcome, count, last_at)
    select m.id, m.partner_id, u.hour, u.outcome, u.count, u.last_at
    from unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::bigint[], $5::timestamptz[]) as u(tag_id, hour, outcome, count, last_at)
    join marktags m on m.id = u.tag_id
    on conflict (tag_id, hour, outcome) do update
      set count = tag_counts.count + excluded.count, last_at = greatest(tag_counts.last_at, excluded.last_at)`,
};

const TOUCH_ACTIVITY: NamedStatement = {
  name: 'marktag_touch_tag_activity',
  text: `
    insert into tag_activity (tag_id, partner_id, last_browser_event_at, last_server_event_at)
    select m.id, m.partner_id, u.browser_at, u.server_at
    from unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) as u(tag_id, browser_at, server_at)
    join marktags m on m.id = u.tag_id
    on conflict (tag_id) do update set
      last_browser_event_at = greatest(tag_activity.last_browser_event_at, excluded.last_browser_event_at),
      last_server_event_at = greatest(tag_activity.last_server_event_at, excluded.last_server_event_at)`,
};

const PRUNE: NamedStatement = { name: 'marktag_prune_tag_counts', text: `delete from tag_counts where hour < $1` };

const TOTALS: NamedStatement = {
  name: 'marktag_tag_count_totals',
  text: `select outcome, sum(count)::float8 as count from tag_counts
         where partner_id = $1 and tag_id = $2 and hour >= $3 group by outcome`,
};

const ACTIVITY: NamedStatement = {
  name: 'marktag_tag_activity',
  text: `select last_browser_event_at, last_server_event_at from tag_activity where partner_id = $1 and tag_id = $2`,
};

/** The diagnostics' counts: added in bulk by the counters, read per tag for its partner. */
export class DiagnosticsRepository {
  constructor(private readonly run: RunStatement) {}

  async add(counts: TagCount[]): Promise<void> {
    if (counts.length === 0) return;
    await this.run(ADD_COUNTS, [
      counts.map((c) => c.tagId),
      counts.map((c) => c.hour.toISOString()),
      counts.map((c) => c.outcome),
      counts.map((c) => c.count),
      counts.map((c) => c.lastAt.toISOString()),
    ]);
  }

  async touch(activity: Map<string, TagActivity>): Promise<void> {
    if (activity.size === 0) return;
    const entries = [...activity];
    await this.run(TOUCH_ACTIVITY, [
      entries.map(([tagId]) => tagId),
      entries.map(([, a]) => a.lastBrowserEventAt?.toISOString() ?? null),
      entries.map(([, a]) => a.lastServerEventAt?.toISOString() ?? null),
    ]);
  }

  async prune(before: Date): Promise<void> {
    await this.run(PRUNE, [before.toISOString()]);
  }

  async totals(partnerId: string, tagId: string, since: Date): Promise<OutcomeTotal[]> {
    return this.run<OutcomeTotal>(TOTALS, [partnerId, tagId, since.toISOString()]);
  }

  async activity(partnerId: string, tagId: string): Promise<TagActivity> {
    const [row] = await this.run<{ last_browser_event_at: Date | string | null; last_server_event_at: Date | string | null }>(ACTIVITY, [partnerId, tagId]);
    const date = (value: Date | string | null | undefined) => (value === null || value === undefined ? null : new Date(value));
    return { lastBrowserEventAt: date(row?.last_browser_event_at), lastServerEventAt: date(row?.last_server_event_at) };
  }
}
