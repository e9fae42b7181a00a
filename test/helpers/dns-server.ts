import { createSocket, type Socket } from 'node:dgram';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';
import type { DnsServer } from '../../src/config.js';

/** What a name answers. `servfail`, `refused` and `drop` stand for a broken upstream for that name. */
export type ZoneEntry = { cname?: string; txt?: string[]; a?: string } | 'servfail' | 'refused' | 'drop';

const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

/**
 * A real authoritative DNS server over UDP on loopback, serving an editable zone. Names are
 * matched case-insensitively; a name not in the zone is NXDOMAIN; a name without the asked
 * type is NODATA. `silent: true` makes a server that never answers anything.
 */
export class TestDnsServer {
  readonly zone = new Map<string, ZoneEntry>();
  readonly queries: { name: string; type: string }[] = [];
  private constructor(
    private readonly socket: Socket,
    readonly address: DnsServer,
  ) {}

  static async start(options: { silent?: boolean } = {}): Promise<TestDnsServer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const server = new TestDnsServer(socket, { host: '127.0.0.1', port: socket.address().port });
    socket.on('message', (message, peer) => {
      if (options.silent) return;
      const reply = server.answer(dnsPacket.decode(message));
      if (reply) socket.send(reply, peer.port, peer.address);
    });
    return server;
  }

  /** Replaces what `name` answers; `undefined` removes it (NXDOMAIN). */
  set(name: string, entry: ZoneEntry | undefined): void {
    if (entry === undefined) this.zone.delete(name.toLowerCase());
    else this.zone.set(name.toLowerCase(), entry);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private answer(query: Packet): Buffer | undefined {
    const question = query.questions?.[0];
    if (!question) return undefined;
    this.queries.push({ name: question.name, type: question.type });
    const entry = this.zone.get(question.name.toLowerCase());
    if (entry === 'drop') return undefined;
    let rcode: number = RCODE.NOERROR;
    const answers: Answer[] = [];
    if (entry === undefined) rcode = RCODE.NXDOMAIN;
    else if (entry === 'servfail') rcode = RCODE.SERVFAIL;
    else if (entry === 'refused') rcode = RCODE.REFUSED;
    else if (entry.cname && question.type !== 'TXT') {
      // Like a real server, a CNAME answers every type at that name but its own others.
      answers.push({ type: 'CNAME', name: question.name, ttl: 60, class: 'IN', data: entry.cname });
    } else if (question.type === 'TXT' && entry.txt) {
      answers.push(...entry.txt.map((text): Answer => ({ type: 'TXT', name: question.name, ttl: 60, class: 'IN', data: text })));
    } else if (question.type === 'A' && entry.a) {
      answers.push({ type: 'A', name: question.name, ttl: 60, class: 'IN', data: entry.a });
    }
    return dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | rcode,
      questions: query.questions,
      answers,
    });
  }
}
