/**
 * The sources GA4's default channel grouping treats as search engines, social networks, video and
 * shopping sites, in one place: brands (a host's registrable name without its public suffix, so
 * `google` covers www.google.com, google.co.uk and news.google.de) and whole domains (for hosts
 * whose name alone would say too much or too little, such as t.co or search.brave.com). A utm_source
 * matches by the same names (`utm_source=google`, `utm_source=facebook.com`).
 */
export const SOURCE_LISTS = {
  search: {
    brands: ['google', 'bing', 'yahoo', 'duckduckgo', 'baidu', 'yandex', 'ecosia', 'naver', 'seznam', 'qwant', 'startpage', 'ask', 'aol', 'sogou', 'daum', 'coccoc', 'msn', 'so', 'sm', 'dogpile', 'yippy', 'mojeek', 'kagi', 'perplexity', 'you', 'onet', 'rambler', 'search'],
    domains: ['search.brave.com', 'search.yahoo.com', 'go.mail.ru', 'search.aol.com', 'alice.com', 'najdi.si', 'rakuten.co.jp'],
  },
  social: {
    brands: ['facebook', 'fb', 'instagram', 'linkedin', 'lnkd', 'twitter', 'pinterest', 'reddit', 'tiktok', 'snapchat', 'tumblr', 'quora', 'threads', 'mastodon', 'vk', 'weibo', 'wechat', 'whatsapp', 'telegram', 'discord', 'messenger', 'line', 'xing', 'meetup', 'nextdoor', 'bsky', 'bluesky', 'ycombinator', 'medium', 'flickr', 'deviantart', 'producthunt', 'stackoverflow', 'stackexchange', 'slack'],
    domains: ['t.co', 'x.com', 'x', 'lnkd.in', 'news.ycombinator.com', 'ok.ru', 'wa.me', 't.me', 'm.me', 'pin.it'],
  },
  video: {
    brands: ['youtube', 'youtu', 'vimeo', 'twitch', 'dailymotion', 'wistia', 'vidyard', 'rumble', 'bilibili', 'youku', 'iqiyi', 'netflix', 'hulu'],
    domains: ['youtu.be', 'm.youtube.com', 'video.google.com', 'tv.apple.com'],
  },
  shopping: {
    brands: ['amazon', 'ebay', 'etsy', 'walmart', 'aliexpress', 'alibaba', 'shopify', 'shopzilla', 'mercadolibre', 'rakuten', 'target', 'bestbuy', 'zalando', 'wish', 'temu', 'idealo', 'pricerunner', 'kelkoo', 'shopping'],
    domains: ['shopping.google.com', 'shopping.yahoo.com', 'checkout.shopify.com'],
  },
} as const;

export type SourceCategory = keyof typeof SOURCE_LISTS;

/** The source a click id names, as GA4 reports auto-tagged traffic, and its click id type. */
export const CLICK_IDS = [
  { param: 'gclid', type: 'google', source: 'google' },
  { param: 'gbraid', type: 'google', source: 'google' },
  { param: 'wbraid', type: 'google', source: 'google' },
  { param: 'fbclid', type: 'meta', source: 'facebook' },
  { param: 'ttclid', type: 'tiktok', source: 'tiktok' },
  { param: 'msclkid', type: 'microsoft', source: 'bing' },
  { param: 'li_fat_id', type: 'linkedin', source: 'linkedin' },
  { param: 'twclid', type: 'x', source: 'x' },
] as const;

export type ClickIdType = (typeof CLICK_IDS)[number]['type'];

/** The query parameters every stored URL keeps: the campaign's, the click ids and `ref`. */
export const ATTRIBUTION_PARAMS: readonly string[] = [
  'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content', 'utm_id',
  ...CLICK_IDS.map((click) => click.param),
  'ref',
];
