import type { NamedStatement, RunStatement } from '../../db/client.js';
import type { StoredAttribution } from '../collect/repository.js';

/** The tag an ingestion names, if it is the partner's, with what its merchant keeps of query strings. */
export interface IngestionTag {
  id: string;
  merchantId: string;
  keepQueryParams: string[];
}

/** A visitor or user at a time: whose latest session a server event without one inherits. */
export interface SessionProbe {
  visitorId: string | null;
  userId: string | null;
  at: Date;
}

const TAG: NamedStatement = {
  name: 'marktag_ingestion_tag',
  text: `select t.id, t.merchant_id, m.keep_query_params
         from marktags t join merchants m on m.id = t.merchant_id and m.partner_id = t.partner_id
         where t.partner_id = $1 and t.id = $2`,
};

const VISITORS_OF_USERS: NamedStatement = {
  name: 'marktag_visitors_of_users',
  text: `select distinct on (user_id) user_id, visitor_id from visitor_users
         where partner_id = $1 and merchant_id = $2 and user_id = any($3::text[])
         order by user_id, linked_at desc`,
};

/** Per probe, the latest session of the visitor (or, failing that, of the user) that started in the window before it. */
const LATEST_SESSIONS: NamedStatement = {
  name: 'marktag_latest_sessions',
  text: `select p.n::int as n, s.attr_source, s.attr_medium, s.attr_campaign, s.attr_term, s.attr_content, s.channel,
                s.click_id_type, s.referrer_host, s.landing_page
         from unnest($3::text[], $4::text[], $5::timestamptz[]) with ordinality as p(visitor_id, user_id, at, n)
         cross join lateral (
           select * from sessions s
           where s.partner_id = $1 and s.merchant_id = $2
             and (s.visitor_id = p.visitor_id or (p.visitor_id is null and s.user_id = p.user_id))
             and s.started_at <= p.at and s.started_at > p.at - make_interval(secs => $6)
           order by s.started_at desc limit 1
         ) s`,
};

interface LatestSessionRow {
  n: number;
  attr_source: string;
  attr_medium: string;
  attr_campaign: string | null;
  attr_term: string | null;
  attr_content: string | null;
  channel: string;
  click_id_type: string | null;
  referrer_host: string | null;
  landing_page: string | null;
}

/** What server-side ingestion reads before it writes: tag ownership, identities, sessions. */
export class ServerEventsRepository {
  constructor(private readonly run: RunStatement) {}

  async tag(partnerId: string, tagId: string): Promise<IngestionTag | undefined> {
    const [row] = await this.run<{ id: string; merchant_id: string; keep_query_params: string[] }>(TAG, [partnerId, tagId]);
    return row && { id: row.id, merchantId: row.merchant_id, keepQueryParams: row.keep_query_params };
  }

  /** The latest visitor each user identified as, by user id. */
  async visitorsOfUsers(partnerId: string, merchantId: string, userIds: string[]): Promise<Map<string, string>> {
    if (userIds.length === 0) return new Map();
    const rows = await this.run<{ user_id: string; visitor_id: string }>(VISITORS_OF_USERS, [partnerId, merchantId, userIds]);
    return new Map(rows.map((row) => [row.user_id, row.visitor_id]));
  }

  /** For each probe (by index), the attribution of the latest session that started within `windowMs` before it. */
  async latestSessions(partnerId: string, merchantId: string, probes: SessionProbe[], windowMs: number): Promise<Map<number, StoredAttribution>> {
    if (probes.length === 0) return new Map();
    const rows = await this.run<LatestSessionRow>(LATEST_SESSIONS, [
      partnerId,
      merchantId,
      probes.map((p) => p.visitorId),
      probes.map((p) => p.userId),
      probes.map((p) => p.at.toISOString()),
      windowMs / 1000,
    ]);
    return new Map(
      rows.map((row) => [
        row.n - 1,
        {
          source: row.attr_source,
          medium: row.attr_medium,
          campaign: row.attr_campaign,
          term: row.attr_term,
          content: row.attr_content,
          channel: row.channel,
          clickIdType: row.click_id_type,
          referrerHost: row.referrer_host,
          landingPage: row.landing_page,
        },
      ]),
    );
  }
}
