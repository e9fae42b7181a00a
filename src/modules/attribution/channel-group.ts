import { categoriesOf } from './source-category.js';

export const CHANNELS = [
  'Direct', 'Cross-network', 'Paid Shopping', 'Paid Search', 'Paid Social', 'Paid Video', 'Display', 'Paid Other',
  'Organic Shopping', 'Organic Social', 'Organic Video', 'Organic Search', 'Referral', 'Email', 'Affiliates', 'Audio',
  'SMS', 'Mobile Push Notifications', 'Unassigned',
] as const;
export type Channel = (typeof CHANNELS)[number];

// GA4's default channel group, its regular expressions as published, matched case-insensitively.
const PAID_MEDIUM = /^(.*cp.*|ppc|retargeting|paid.*)$/;
const SHOPPING_CAMPAIGN = /^(.*(([^a-df-z]|^)shop|shopping).*)$/;
const DISPLAY_MEDIUMS = new Set(['display', 'banner', 'expandable', 'interstitial', 'cpm']);
const SOCIAL_MEDIUMS = new Set(['social', 'social-network', 'social-media', 'sm', 'social network', 'social media']);
const REFERRAL_MEDIUMS = new Set(['referral', 'app', 'link']);
const EMAIL = new Set(['email', 'e-mail', 'e_mail', 'e mail']);

/**
 * GA4's default channel grouping of a (source, medium, campaign), its rules in GA4's order: the
 * first that matches wins.
 */
export function channelOf(source: string, medium: string, campaign: string | null): Channel {
  const s = source.toLowerCase();
  const m = medium.toLowerCase();
  const c = (campaign ?? '').toLowerCase();
  if (s === '(direct)' && (m === '(none)' || m === '(not set)')) return 'Direct';
  if (c.includes('cross-network')) return 'Cross-network';
  const category = categoriesOf(s);
  const paid = PAID_MEDIUM.test(m);
  const shoppingCampaign = SHOPPING_CAMPAIGN.test(c);
  if ((category.has('shopping') || shoppingCampaign) && paid) return 'Paid Shopping';
  if (category.has('search') && paid) return 'Paid Search';
  if (category.has('social') && paid) return 'Paid Social';
  if (category.has('video') && paid) return 'Paid Video';
  if (DISPLAY_MEDIUMS.has(m)) return 'Display';
  if (paid) return 'Paid Other';
  if (category.has('shopping') || shoppingCampaign) return 'Organic Shopping';
  if (category.has('social') || SOCIAL_MEDIUMS.has(m)) return 'Organic Social';
  if (category.has('video') || m.includes('video')) return 'Organic Video';
  if (category.has('search') || m === 'organic') return 'Organic Search';
  if (REFERRAL_MEDIUMS.has(m)) return 'Referral';
  if (EMAIL.has(s) || EMAIL.has(m)) return 'Email';
  if (m === 'affiliate') return 'Affiliates';
  if (m === 'audio') return 'Audio';
  if (s === 'sms' || m === 'sms') return 'SMS';
  if (m.endsWith('push') || m.includes('mobile') || m.includes('notification') || s === 'firebase') return 'Mobile Push Notifications';
  return 'Unassigned';
}
