import { ApiError } from '../../errors.js';
import type { MarktagsRepository } from '../marktags/repository.js';
import type { DiagnosticsRepository } from './repository.js';
import { REJECTION_CODES, type TagDiagnosticsReport } from './schemas.js';

const HOUR_MS = 3_600_000;

const latest = (...dates: (Date | null)[]): Date | null =>
  dates.reduce<Date | null>((a, b) => (b !== null && (a === null || b > a) ? b : a), null);

/** A tag's last 24 hours, so a partner can see why a merchant's events do not arrive. */
export class DiagnosticsService {
  constructor(
    private readonly counts: DiagnosticsRepository,
    private readonly tags: MarktagsRepository,
  ) {}

  async report(partnerId: string, tagId: string, now = new Date()): Promise<TagDiagnosticsReport> {
    const from = new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS - 23 * HOUR_MS);
    const [tag, totals, activity] = await Promise.all([
      this.tags.find(partnerId, tagId),
      this.counts.totals(partnerId, tagId, from),
      this.counts.activity(partnerId, tagId),
    ]);
    if (!tag) throw ApiError.notFound('TAG_NOT_FOUND', "Tag doesn't exist or doesn't belong to partner");
    const of = (outcome: string) => Number(totals.find((total) => total.outcome === outcome)?.count ?? 0);
    return {
      window: { from: from.toISOString(), to: now.toISOString() },
      accepted: of('accepted'),
      duplicates: of('duplicates'),
      ignored: { bot: of('ignored:bot'), suppressed: of('ignored:suppressed') },
      rejected: Object.fromEntries(REJECTION_CODES.map((code) => [code, of(`rejected:${code}`)])) as TagDiagnosticsReport['rejected'],
      lastEventAt: latest(tag.lastEventAt, activity.lastBrowserEventAt, activity.lastServerEventAt)?.toISOString() ?? null,
      lastBrowserEventAt: activity.lastBrowserEventAt?.toISOString() ?? null,
      lastServerEventAt: activity.lastServerEventAt?.toISOString() ?? null,
    };
  }
}
