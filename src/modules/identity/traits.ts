import { createHash } from 'node:crypto';
import type { UserTraits } from '../collect/schemas.js';

export interface HashedTraits {
  emailSha256: string | null;
  phoneSha256: string | null;
}

export const NO_TRAITS: HashedTraits = { emailSha256: null, phoneSha256: null };

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Trimmed and lower-cased, as Meta's and Google's conversion APIs hash it. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Digits only, country code included (a leading + or 00 is dropped with the other non-digits). */
export function normalisePhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  return phone.trim().startsWith('00') ? digits.replace(/^00/, '') : digits;
}

/**
 * The hashes of a user's email and phone: the clear values exist only for the length of this call
 * (never stored, logged or returned). A sender's own hashes are taken as given.
 */
export function hashTraits(user: UserTraits | undefined): HashedTraits {
  if (!user) return NO_TRAITS;
  const email = user.email === undefined ? undefined : normaliseEmail(user.email);
  const phone = user.phone === undefined ? undefined : normalisePhone(user.phone);
  return {
    emailSha256: email ? sha256(email) : (user.emailSha256 ?? null),
    phoneSha256: phone ? sha256(phone) : (user.phoneSha256 ?? null),
  };
}
