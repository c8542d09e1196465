// eventd as a library: the daemon in your own process, like osctld's Eventd::Manager.
import type { DaemonConfig } from './daemon/config.js';
import { defaultConfig } from './daemon/config.js';
import { Daemon } from './daemon/daemon.js';
import { ReportRejectedError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import type { EventOpts, EventType } from './protocol/events.js';
import { validateReport } from './protocol/report.js';
import { Subscription, type SubscribeOptions } from './client/subscription.js';

export type ServerOptions = Partial<DaemonConfig> & { logger?: Logger };

export class EventdServer {
  private daemon: Daemon | undefined;
  private readonly subscriptions = new Set<Subscription>();

  constructor(private readonly options: ServerOptions = {}) {}

  /** Opens the sockets and starts the worker threads. */
  async start({ workers }: { workers?: number } = {}): Promise<void> {
    if (this.daemon) throw new Error('eventd server already started');
    const { logger, ...overrides } = this.options;
    // In someone's process the journal is asked for (`journal: { dir, … }`), not assumed.
    const config: DaemonConfig = { ...defaultConfig(), logLevel: 'warn', journal: undefined, ...overrides };
    if (workers !== undefined) config.workers = workers;
    this.daemon = await Daemon.start(config, logger ?? createLogger(config.logLevel));
  }

  get config(): DaemonConfig {
    return this.running().config;
  }

  /** Where the sockets are (undefined only for a passed socket without a path), and which systemd passed. */
  get sockets(): { name: string; path: string | undefined; activated: boolean }[] {
    return this.running().sockets;
  }

  /** The URL --metrics-listen (metricsListen) serves, with the port it got; undefined when off. */
  get metricsUrl(): string | undefined {
    return this.running().metricsUrl;
  }

  /** Publishes an event (type-checked at compile time, validated at run time); returns its seq. */
  report<T extends EventType>(type: T, opts: EventOpts<T>): number {
    const daemon = this.running();
    const report = validateReport({ type, opts });
    if (!report.ok) throw new ReportRejectedError(report.message, report.issues, 'local');
    return daemon.publish(type, opts);
  }

  /** Subscribes over the server's own events socket: an async iterable of events. */
  subscribe(filter: Omit<SubscribeOptions, 'eventsSocket' | 'reconnect'> = {}): Subscription {
    const subscription = new Subscription({ ...filter, eventsSocket: this.running().config.eventsSocket });
    this.subscriptions.add(subscription);
    return subscription;
  }

  unsubscribe(subscription: Subscription): void {
    subscription.close();
    this.subscriptions.delete(subscription);
  }

  /** Stops without announcing anything. */
  async stop(): Promise<void> {
    await this.close(false);
  }

  /** Announces osctld_shutdown to every subscriber, then stops. */
  async shutdown(): Promise<void> {
    await this.close(true);
  }

  private async close(announce: boolean): Promise<void> {
    const daemon = this.running();
    await daemon.stop({ announce });
    for (const subscription of this.subscriptions) subscription.close();
    this.subscriptions.clear();
    this.daemon = undefined;
  }

  private running(): Daemon {
    if (!this.daemon) throw new Error('eventd server is not started');
    return this.daemon;
  }
}
