export * from './partners.js';
export * from './api-tokens.js';
export * from './merchants.js';
export * from './idempotency-keys.js';
export * from './marktags.js';
export * from './events.js';
export * from './ignored-events.js';
