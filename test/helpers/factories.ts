import { randomUUID } from 'node:crypto';
import type { App } from '../../src/app.js';
import type { CreatePartnerResponse } from '../../src/modules/admin/schemas.js';
import type { CreateMerchantResponse } from '../../src/modules/merchants/schemas.js';
import { ADMIN_TOKEN, bearer } from './app.js';

/** Onboards a fresh partner through the Admin API (on the admin listener); every test makes its own, so none share data. */
export async function createPartner(app: App, input: { name?: string; domain?: string } = {}): Promise<CreatePartnerResponse> {
  const response = await app.admin.inject({
    method: 'POST',
    url: '/v1/admin/partners',
    headers: bearer(ADMIN_TOKEN),
    payload: { name: input.name ?? `Partner ${randomUUID().slice(0, 8)}`, ...(input.domain ? { domain: input.domain } : {}) },
  });
  if (response.statusCode !== 201) throw new Error(`createPartner: ${response.statusCode} ${response.body}`);
  return response.json<CreatePartnerResponse>();
}

export async function createMerchant(app: App, token: string, name = `Merchant ${randomUUID().slice(0, 8)}`): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/v1/partners/merchant', headers: bearer(token), payload: { name } });
  if (response.statusCode !== 201) throw new Error(`createMerchant: ${response.statusCode} ${response.body}`);
  return response.json<CreateMerchantResponse>().merchantId;
}

/** A tag of the merchant on a fresh domain (not verified); answers its id. */
export async function createTag(app: App, token: string, merchantId: string): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/partners/marktag/generate',
    headers: bearer(token),
    payload: { merchantId, domain: `t${randomUUID().slice(0, 8)}.test` },
  });
  if (response.statusCode !== 200) throw new Error(`createTag: ${response.statusCode} ${response.body}`);
  return response.json<{ tagId: string }>().tagId;
}

export interface LiveTag {
  token: string;
  partnerId: string;
  merchantId: string;
  tagId: string;
  /** The tag's domain: pages on it or its subdomains may send events. */
  domain: string;
}

/** A partner with a domain, a merchant, and a preverified (so live) tag on a subdomain of that domain. */
export async function createLiveTag(app: App): Promise<LiveTag> {
  const partnerDomain = `p${randomUUID().slice(0, 8)}.test`;
  const partner = await createPartner(app, { domain: partnerDomain });
  const merchantId = await createMerchant(app, partner.token);
  const domain = `shop.${partnerDomain}`;
  const response = await app.inject({
    method: 'POST',
    url: '/v1/partners/marktag/generate',
    headers: bearer(partner.token),
    payload: { merchantId, domain },
  });
  if (response.statusCode !== 200) throw new Error(`createLiveTag: ${response.statusCode} ${response.body}`);
  return { token: partner.token, partnerId: partner.partnerId, merchantId, tagId: response.json<{ tagId: string }>().tagId, domain };
}
