export interface SseMessage {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** A minimal Server-Sent Events client over fetch, keeping every frame it has read. */
export class SseClient {
  readonly messages: SseMessage[] = [];
  private buffer = '';
  private waiters: (() => void)[] = [];
  ended = false;

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {
    void this.pump();
  }

  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, { headers, signal: abort.signal });
    return new SseClient(response, abort);
  }

  get events(): SseMessage[] {
    return this.messages.filter((message) => message.event === 'event');
  }

  /** Waits until `count` events have arrived (or the stream ended, or the time is up). */
  async waitForEvents(count: number, timeoutMs = 10_000): Promise<SseMessage[]> {
    await this.until(() => this.events.length >= count, timeoutMs);
    return this.events;
  }

  async until(condition: () => boolean, timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!condition() && !this.ended && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return condition();
  }

  close(): void {
    this.abort.abort();
  }

  private async pump(): Promise<void> {
    const body = this.response.body as AsyncIterable<Uint8Array> | null;
    if (!body) return;
    const decoder = new TextDecoder();
    try {
      for await (const value of body) {
        this.buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = this.buffer.indexOf('\n\n')) >= 0) {
          const frame = this.buffer.slice(0, end);
          this.buffer = this.buffer.slice(end + 2);
          this.messages.push(parse(frame));
        }
        this.notify();
      }
    } catch {
      // aborted
    } finally {
      this.ended = true;
      this.notify();
    }
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

function parse(frame: string): SseMessage {
  const message: SseMessage = {};
  for (const line of frame.split('\n')) {
    if (line.startsWith(':')) message.comment = (message.comment ? `${message.comment}\n` : '') + line.slice(1).trim();
    else {
      const colon = line.indexOf(':');
      const field = line.slice(0, colon);
      const value = line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id' || field === 'event' || field === 'data') message[field] = value;
    }
  }
  return message;
}
