import type { Database } from '../../db/client.js';
import type { MerchantRow } from '../../db/schema/index.js';
import { ApiError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { offsetOf, paginate, type PageRequest } from '../../lib/pagination.js';
import type { MerchantsRepository } from './repository.js';
import type { CreateMerchantResponse, Merchant, MerchantDetails, MerchantList, MerchantMarktag } from './schemas.js';

/** Where a merchant's tags come from; the marktags module provides it once tags exist. */
export interface MerchantTagsSource {
  forMerchants(partnerId: string, merchantIds: string[], tx?: Database): Promise<Map<string, MerchantMarktag[]>>;
}

export const NO_TAGS: MerchantTagsSource = {
  forMerchants: () => Promise.resolve(new Map()),
};

/** A single snapshot: the count and the rows of a page agree even while merchants are being added. */
const SNAPSHOT = { isolationLevel: 'repeatable read', accessMode: 'read only' } as const;

const merchantNotFound = () => ApiError.notFound('MERCHANT_NOT_FOUND', 'Merchant not found');

/** Names are shown as given, minus surrounding white space; the schema has already refused blank ones. */
function cleanName(name: string): string {
  return name.trim();
}

export class MerchantsService {
  constructor(
    private readonly db: Database,
    private readonly merchants: MerchantsRepository,
    private readonly tags: MerchantTagsSource = NO_TAGS,
  ) {}

  async list(partnerId: string, page: PageRequest): Promise<MerchantList> {
    return this.db.transaction(async (tx) => {
      const [rows, total] = await Promise.all([
        this.merchants.list(partnerId, offsetOf(page), page.limit, tx),
        this.merchants.count(partnerId, tx),
      ]);
      const tags = await this.tags.forMerchants(
        partnerId,
        rows.map((row) => row.id),
        tx,
      );
      return {
        merchants: rows.map((row) => toMerchant(row, tags.get(row.id) ?? [])),
        pagination: paginate(page, total),
      };
    }, SNAPSHOT);
  }

  async create(partnerId: string, name: string): Promise<CreateMerchantResponse> {
    const row = await this.merchants.insert(partnerId, { id: newId(), name: cleanName(name) });
    return { merchantId: row.id };
  }

  async get(partnerId: string, merchantId: string): Promise<MerchantDetails> {
    const row = await this.merchants.find(partnerId, merchantId);
    if (!row) throw merchantNotFound();
    return this.details(partnerId, row);
  }

  async update(partnerId: string, merchantId: string, patch: { name?: string; keepQueryParams?: string[] }): Promise<MerchantDetails> {
    const row = await this.merchants.update(partnerId, merchantId, {
      ...(patch.name !== undefined ? { name: cleanName(patch.name) } : {}),
      ...(patch.keepQueryParams !== undefined ? { keepQueryParams: patch.keepQueryParams } : {}),
    });
    if (!row) throw merchantNotFound();
    return this.details(partnerId, row);
  }

  private async details(partnerId: string, row: MerchantRow): Promise<MerchantDetails> {
    const tags = await this.tags.forMerchants(partnerId, [row.id]);
    return { ...toMerchant(row, tags.get(row.id) ?? []), updatedAt: row.updatedAt.toISOString(), keepQueryParams: row.keepQueryParams };
  }
}

function toMerchant(row: MerchantRow, marktags: MerchantMarktag[]): Merchant {
  return { merchantId: row.id, name: row.name, createdAt: row.createdAt.toISOString(), marktags };
}
