// A bystander: one producer reporting at a steady rate with acks, one subscriber timing each
// event from report to delivery. What an attack costs everyone else is its p99 against a quiet
// run, and anything it lost.
import type { LineClient } from './client.js';
import type { TestDaemon } from './daemon.js';

export interface BystanderFigures {
  sent: number;
  acked: number;
  received: number;
  p50: number;
  p99: number;
}

export class Bystander {
  private next = 1;
  private readonly sentAt = new Map<number, number>();
  private latencies: number[] = [];
  private received = 0;
  private acked = 0;

  private constructor(
    private readonly producer: LineClient,
    private readonly subscriber: LineClient,
  ) {}

  static async start(daemon: TestDaemon): Promise<Bystander> {
    const subscriber = await daemon.subscriber({ type: 'ct_init_pid', opts: { pool: 'bystander' } });
    const bystander = new Bystander(await daemon.producer(), subscriber);
    bystander.read();
    return bystander;
  }

  private read(): void {
    this.subscriber.socket.on('data', () => {
      while (this.subscriber.pending > 0) {
        void this.subscriber.nextJson<{ opts?: { init_pid: number } }>().then((event) => {
          const sent = event.opts === undefined ? undefined : this.sentAt.get(event.opts.init_pid);
          if (sent === undefined) return;
          this.latencies.push(performance.now() - sent);
          this.received++;
        });
      }
    });
    this.producer.socket.on('data', () => {
      while (this.producer.pending > 0) {
        void this.producer.nextJson<{ status: boolean }>().then((reply) => reply.status && this.acked++);
      }
    });
  }

  /** Reports `rate` events a second for `ms`, then waits up to 5 s for the stragglers; the figures of that run. */
  async measure(ms: number, rate = 200): Promise<BystanderFigures> {
    this.latencies = [];
    this.received = 0;
    this.acked = 0;
    const first = this.next;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const pid = this.next++;
      this.sentAt.set(pid, performance.now());
      this.producer.sendJson({ type: 'ct_init_pid', opts: { pool: 'bystander', id: 'b', init_pid: pid }, ack: pid });
      await new Promise((resolve) => setTimeout(resolve, 1000 / rate));
    }
    const sent = this.next - first;
    const deadline = performance.now() + 5000;
    while ((this.received < sent || this.acked < sent) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
    return { sent, acked: this.acked, received: this.received, p50: at(0.5), p99: at(0.99) };
  }

  close(): void {
    this.producer.destroy();
    this.subscriber.destroy();
  }
}
