import { getDomain } from 'tldts';
import { channelOf, type Channel } from './channel-group.js';
import { parsePage, storedReferrer, storedUrl } from './page-url.js';
import { categoriesOf } from './source-category.js';
import { CLICK_IDS, type ClickIdType } from './sources.js';

/** Where a visit came from, as stored on an event and its session. */
export interface Attribution {
  source: string;
  medium: string;
  campaign: string | null;
  term: string | null;
  content: string | null;
  channel: Channel;
  clickIdType: ClickIdType | null;
  referrerHost: string | null;
  landingPage: string | null;
}

/** What an event's page says, ready to store. */
export interface AttributedPage {
  /** The URL without what privacy forbids (see storedUrl). */
  url: string;
  /** Origin and path of the referrer. */
  referrer: string | null;
  attribution: Attribution;
  /** A utm parameter or a click id: the event starts a new attribution (GA4 starts a new session). */
  ownCampaign: boolean;
}

export const DIRECT: Attribution = {
  source: '(direct)',
  medium: '(none)',
  campaign: null,
  term: null,
  content: null,
  channel: 'Direct',
  clickIdType: null,
  referrerHost: null,
  landingPage: null,
};

/** The utm parameters that make a campaign besides source, medium and campaign, which are read on their own. */
const OTHER_CAMPAIGN_PARAMS = ['utm_term', 'utm_content', 'utm_id'];
const CLICK_ID_PARAMS = new Map<string, (typeof CLICK_IDS)[number]>(CLICK_IDS.map((click) => [click.param, click]));

const nonEmpty = (value: string | null | undefined): string | null => (value === null || value === undefined || value.trim() === '' ? null : value.trim());

/**
 * The stored forms of an event's URL and referrer, and what they say about where the visitor came
 * from (contracts/server-events.md, "Attribution captured at write time"); `keep` is the
 * merchant's own list of query parameters. Session scope is the writer's: this is the event's own.
 */
export function attributePage(url: string, referrer: string | undefined, keep: readonly string[]): AttributedPage {
  const page = parsePage(url);
  const ref = storedReferrer(referrer);
  // Most pages carry no query: then there is no campaign to read (and searchParams is never built).
  const params = page.pairs.length === 0 ? undefined : page.url?.searchParams;
  const utm = (name: string) => nonEmpty(params?.get(name));
  const click = params && page.pairs.map((pair) => CLICK_ID_PARAMS.get(pair.name)).find((found) => found !== undefined && nonEmpty(params.get(found.param)) !== null);
  const utmSource = utm('utm_source');
  const utmMedium = utm('utm_medium');
  const campaign = utm('utm_campaign');
  const ownCampaign = click !== undefined || utmSource !== null || utmMedium !== null || campaign !== null || OTHER_CAMPAIGN_PARAMS.some((name) => utm(name) !== null);

  const refHost = ref.url && (ref.url.protocol === 'https:' || ref.url.protocol === 'http:') ? ref.url.hostname.toLowerCase() : null;
  // A page's own site is not a referrer (a visitor moving between its subdomains included). The
  // registrable domains are looked up only for a referrer from another host.
  const sameSite = (host: string) => {
    if (host === page.url?.hostname.toLowerCase()) return true;
    const pageDomain = page.url ? getDomain(page.url.hostname) : null;
    return pageDomain !== null && getDomain(host) === pageDomain;
  };
  const referrerHost = refHost !== null && sameSite(refHost) ? null : refHost;

  const source = utmSource ?? click?.source ?? referrerHost ?? '(direct)';
  const referrerCategories = referrerHost === null ? undefined : categoriesOf(referrerHost);
  const medium =
    utmMedium ??
    (click !== undefined ? 'cpc' : referrerCategories?.has('search') ? 'organic' : referrerCategories?.has('social') ? 'social' : referrerHost !== null ? 'referral' : '(none)');
  return {
    url: storedUrl(page, keep),
    referrer: ref.text,
    attribution: {
      source,
      medium,
      campaign,
      term: utm('utm_term'),
      content: utm('utm_content'),
      channel: channelOf(source, medium, campaign),
      clickIdType: click?.type ?? null,
      referrerHost,
      landingPage: page.url?.pathname ?? null,
    },
    ownCampaign,
  };
}
