import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attributePage } from '../src/modules/attribution/attribute.js';
import { channelOf } from '../src/modules/attribution/channel-group.js';
import { ATTRIBUTION_PARAMS } from '../src/modules/attribution/sources.js';

const SHOP = 'https://shop.example.com';

describe('URL privacy', () => {
  it('keeps only the allowed query parameters, never the fragment, and the referrer as origin and path', () => {
    const page = attributePage(`${SHOP}/landing?email=a@b.c&utm_source=news&gclid=X#token=secret`, 'https://mail.example.org/inbox?token=1#x', []);
    expect(page.url).toBe(`${SHOP}/landing?utm_source=news&gclid=X`);
    expect(page.referrer).toBe('https://mail.example.org/inbox');
  });

  it("keeps the merchant's own parameters, in their order", () => {
    expect(attributePage(`${SHOP}/s?q=shoes&session=abc&variant=b&utm_medium=email`, undefined, ['q', 'variant']).url).toBe(`${SHOP}/s?q=shoes&variant=b&utm_medium=email`);
  });

  it('drops credentials, and keeps nothing of the query of a URL that does not parse', () => {
    expect(attributePage('https://user:secret@shop.example.com/a?utm_source=x', 'https://me:pw@ref.example/p?q=1', [])).toMatchObject({
      url: 'https://shop.example.com/a?utm_source=x',
      referrer: 'https://ref.example/p',
    });
    expect(attributePage('not a url?email=a@b.c&utm_source=x#y', undefined, []).url).toBe('not a url');
  });

  it('never stores a parameter outside the lists, nor the fragment (property)', () => {
    const name = fc.stringMatching(/^[a-z_]{1,12}$/);
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.string({ maxLength: 8 })), { maxLength: 8 }), fc.string({ maxLength: 8 }), (pairs, fragment) => {
        const query = pairs.map(([key, value]) => `${key}=${encodeURIComponent(value)}`).join('&');
        const stored = attributePage(`${SHOP}/p?${query}#frag${encodeURIComponent(fragment)}`, undefined, ['keep_me']).url;
        expect(stored).not.toContain('#');
        for (const key of new URL(stored).searchParams.keys()) expect([...ATTRIBUTION_PARAMS, 'keep_me']).toContain(key);
      }),
    );
  });
});

describe('attribution of a page and its referrer', () => {
  // (url, referrer) → what GA4's default channel grouping makes of it, written out by hand.
  const cases: [string, string | undefined, { source: string; medium: string; channel: string; clickIdType?: string | null; referrerHost?: string | null }][] = [
    [`${SHOP}/`, undefined, { source: '(direct)', medium: '(none)', channel: 'Direct', clickIdType: null, referrerHost: null }],
    [`${SHOP}/p`, `${SHOP}/`, { source: '(direct)', medium: '(none)', channel: 'Direct', referrerHost: null }],
    [`${SHOP}/p`, 'https://blog.example.com/post', { source: '(direct)', medium: '(none)', channel: 'Direct', referrerHost: null }],
    [`${SHOP}/`, 'https://www.google.com/', { source: 'www.google.com', medium: 'organic', channel: 'Organic Search', referrerHost: 'www.google.com' }],
    [`${SHOP}/`, 'https://www.google.co.uk/', { source: 'www.google.co.uk', medium: 'organic', channel: 'Organic Search' }],
    [`${SHOP}/`, 'https://duckduckgo.com/', { source: 'duckduckgo.com', medium: 'organic', channel: 'Organic Search' }],
    [`${SHOP}/`, 'https://search.brave.com/search', { source: 'search.brave.com', medium: 'organic', channel: 'Organic Search' }],
    [`${SHOP}/`, 'https://www.bing.com/', { source: 'www.bing.com', medium: 'organic', channel: 'Organic Search' }],
    [`${SHOP}/`, 'https://mail.google.com/mail/u/0/', { source: 'mail.google.com', medium: 'referral', channel: 'Referral' }],
    [`${SHOP}/?gclid=abc`, 'https://www.google.com/', { source: 'google', medium: 'cpc', channel: 'Paid Search', clickIdType: 'google' }],
    [`${SHOP}/?wbraid=abc`, undefined, { source: 'google', medium: 'cpc', channel: 'Paid Search', clickIdType: 'google' }],
    [`${SHOP}/?msclkid=abc`, undefined, { source: 'bing', medium: 'cpc', channel: 'Paid Search', clickIdType: 'microsoft' }],
    [`${SHOP}/?utm_source=google&utm_medium=cpc&utm_campaign=brand`, undefined, { source: 'google', medium: 'cpc', channel: 'Paid Search' }],
    [`${SHOP}/`, 'https://m.facebook.com/', { source: 'm.facebook.com', medium: 'social', channel: 'Organic Social' }],
    [`${SHOP}/`, 'https://l.facebook.com/l.php', { source: 'l.facebook.com', medium: 'social', channel: 'Organic Social' }],
    [`${SHOP}/`, 'https://t.co/abc', { source: 't.co', medium: 'social', channel: 'Organic Social' }],
    [`${SHOP}/`, 'https://www.reddit.com/r/x', { source: 'www.reddit.com', medium: 'social', channel: 'Organic Social' }],
    [`${SHOP}/?utm_source=newsletter&utm_medium=social`, undefined, { source: 'newsletter', medium: 'social', channel: 'Organic Social' }],
    [`${SHOP}/?fbclid=abc`, 'https://l.facebook.com/', { source: 'facebook', medium: 'cpc', channel: 'Paid Social', clickIdType: 'meta' }],
    [`${SHOP}/?ttclid=abc`, undefined, { source: 'tiktok', medium: 'cpc', channel: 'Paid Social', clickIdType: 'tiktok' }],
    [`${SHOP}/?li_fat_id=abc`, undefined, { source: 'linkedin', medium: 'cpc', channel: 'Paid Social', clickIdType: 'linkedin' }],
    [`${SHOP}/?twclid=abc`, undefined, { source: 'x', medium: 'cpc', channel: 'Paid Social', clickIdType: 'x' }],
    [`${SHOP}/?utm_source=facebook&utm_medium=paid_social`, undefined, { source: 'facebook', medium: 'paid_social', channel: 'Paid Social' }],
    [`${SHOP}/?utm_source=youtube&utm_medium=cpv`, undefined, { source: 'youtube', medium: 'cpv', channel: 'Paid Video' }],
    [`${SHOP}/`, 'https://www.youtube.com/watch', { source: 'www.youtube.com', medium: 'referral', channel: 'Organic Video' }],
    [`${SHOP}/?utm_source=partner&utm_medium=video`, undefined, { source: 'partner', medium: 'video', channel: 'Organic Video' }],
    [`${SHOP}/?utm_source=amazon&utm_medium=ppc`, undefined, { source: 'amazon', medium: 'ppc', channel: 'Paid Shopping' }],
    [`${SHOP}/?utm_source=adnet&utm_medium=cpc&utm_campaign=summer_shopping`, undefined, { source: 'adnet', medium: 'cpc', channel: 'Paid Shopping' }],
    [`${SHOP}/`, 'https://www.etsy.com/listing/1', { source: 'www.etsy.com', medium: 'referral', channel: 'Organic Shopping' }],
    [`${SHOP}/?utm_source=adnet&utm_medium=display`, undefined, { source: 'adnet', medium: 'display', channel: 'Display' }],
    [`${SHOP}/?utm_source=adnet&utm_medium=banner`, undefined, { source: 'adnet', medium: 'banner', channel: 'Display' }],
    [`${SHOP}/?utm_source=adnet&utm_medium=cpm`, undefined, { source: 'adnet', medium: 'cpm', channel: 'Display' }],
    [`${SHOP}/?utm_source=adnet&utm_medium=paid`, undefined, { source: 'adnet', medium: 'paid', channel: 'Paid Other' }],
    [`${SHOP}/?utm_source=adnet&utm_medium=cpc&utm_campaign=q4-cross-network`, undefined, { source: 'adnet', medium: 'cpc', channel: 'Cross-network' }],
    [`${SHOP}/`, 'https://news.example.org/article', { source: 'news.example.org', medium: 'referral', channel: 'Referral', referrerHost: 'news.example.org' }],
    [`${SHOP}/?utm_source=blog&utm_medium=referral`, undefined, { source: 'blog', medium: 'referral', channel: 'Referral' }],
    [`${SHOP}/?utm_source=newsletter&utm_medium=email`, undefined, { source: 'newsletter', medium: 'email', channel: 'Email' }],
    [`${SHOP}/?utm_source=e-mail`, undefined, { source: 'e-mail', medium: '(none)', channel: 'Email' }],
    [`${SHOP}/?utm_source=partner&utm_medium=affiliate`, undefined, { source: 'partner', medium: 'affiliate', channel: 'Affiliates' }],
    [`${SHOP}/?utm_source=podcast&utm_medium=audio`, undefined, { source: 'podcast', medium: 'audio', channel: 'Audio' }],
    [`${SHOP}/?utm_source=sms`, undefined, { source: 'sms', medium: '(none)', channel: 'SMS' }],
    [`${SHOP}/?utm_source=app&utm_medium=web_push`, undefined, { source: 'app', medium: 'web_push', channel: 'Mobile Push Notifications' }],
    [`${SHOP}/?utm_source=newsletter`, undefined, { source: 'newsletter', medium: '(none)', channel: 'Unassigned' }],
  ];

  it.each(cases)('%s from %s', (url, referrer, expected) => {
    expect(attributePage(url, referrer, []).attribution).toMatchObject(expected);
  });

  it('covers every channel of the grouping', () => {
    const seen = new Set(cases.map(([url, referrer]) => attributePage(url, referrer, []).attribution.channel));
    for (const channel of ['Direct', 'Organic Search', 'Paid Search', 'Organic Social', 'Paid Social', 'Email', 'Affiliates', 'Referral', 'Display', 'Paid Video', 'Organic Video', 'Paid Other', 'Unassigned']) {
      expect(seen, channel).toContain(channel);
    }
  });

  it('gives the campaign, term, content and landing page, and says when the page brings its own campaign', () => {
    const page = attributePage(`${SHOP}/spring/sale?utm_source=news&utm_medium=email&utm_campaign=spring&utm_term=shoes&utm_content=hero`, undefined, []);
    expect(page.attribution).toMatchObject({ campaign: 'spring', term: 'shoes', content: 'hero', landingPage: '/spring/sale' });
    expect(page.ownCampaign).toBe(true);
    expect(attributePage(`${SHOP}/?gclid=x`, undefined, []).ownCampaign).toBe(true);
    expect(attributePage(`${SHOP}/?ref=friend`, 'https://www.google.com/', []).ownCampaign).toBe(false);
  });

  it('matches case-insensitively, as GA4 does', () => {
    expect(channelOf('Google', 'CPC', null)).toBe('Paid Search');
    expect(channelOf('Newsletter', 'Email', null)).toBe('Email');
  });
});
