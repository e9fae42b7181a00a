// negotiator 1.x's own API as its README documents it (the DefinitelyTyped package lags behind and
// lacks `preferred`); only what MarkTag uses.
declare module 'negotiator' {
  export default class Negotiator {
    constructor(request: { headers: Readonly<Record<string, string | readonly string[] | undefined>> });
    /** The best of `available` for the Accept-Encoding header; ties in quality go to `preferred` order. */
    encoding(available: readonly string[], options?: { preferred?: readonly string[] }): string | undefined;
  }
}
