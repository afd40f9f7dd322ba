/**
 * Routes a notification to the channels that want it (by event, and by target: channels with
 * `targets: all`, plus those the target's job file lists in `notify`), delivers to each in parallel
 * with the channel's retry policy, and records every delivery (log + metric). Never throws: a
 * notification that cannot be delivered is recorded as failed and logged.
 */
import type { Logger } from 'pino';
import type { ChannelSecrets } from '../config/notification-secrets.js';
import type { NotificationChannelConfig } from '../config/service-schema.js';
import type { ServiceMetrics } from '../observability/service-metrics.js';
import type { Clock } from '../ports/clock.js';
import type { DeliveryRecord, NotificationLog } from '../ports/notification-log.js';
import type { RandomSource } from '../ports/random-source.js';
import { slackRequest, webhookRequest } from './channel-formats.js';
import { DEFAULT_DELIVERY_POLICY, deliver, type DeliveryPolicy } from './delivery.js';
import type { Notification } from './notification.js';

export interface NotifierOptions {
  channels: readonly NotificationChannelConfig[];
  secrets(channel: string): ChannelSecrets | undefined;
  /** The channels a target's job file lists in `notify`. */
  targetChannels(target: string): readonly string[];
  log: NotificationLog;
  metrics?: ServiceMetrics | undefined;
  clock: Clock;
  random: RandomSource;
  logger: Logger;
  /** Backoff timing (tests shorten it); attempts and timeout come from each channel. */
  backoff?: Pick<DeliveryPolicy, 'baseDelayMs' | 'maxDelayMs'>;
}

export class Notifier {
  readonly #o: NotifierOptions;
  readonly #abort = new AbortController();
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(options: NotifierOptions) {
    this.#o = options;
  }

  /** Whether any channel listens to `event` (lets callers skip work nobody would hear about). */
  wants(event: Notification['event']): boolean {
    return this.#o.channels.some((c) => c.events.includes(event));
  }

  channelsFor(n: Pick<Notification, 'event' | 'target'>): NotificationChannelConfig[] {
    const listed = new Set(this.#o.targetChannels(n.target));
    return this.#o.channels.filter((c) => c.events.includes(n.event) && (c.targets === 'all' || listed.has(c.name)));
  }

  async notify(n: Notification): Promise<DeliveryRecord[]> {
    const work = Promise.all(this.channelsFor(n).map((c) => this.#deliverTo(c, n)));
    this.#inFlight.add(work);
    try {
      return await work;
    } finally {
      this.#inFlight.delete(work);
    }
  }

  async #deliverTo(channel: NotificationChannelConfig, n: Notification): Promise<DeliveryRecord> {
    const o = this.#o;
    let result: { delivered: boolean; attempts: number; status: number | undefined; error: string | undefined };
    try {
      const secrets = o.secrets(channel.name);
      if (!secrets) throw new Error(`channel ${channel.name} has no URL or secret configured`);
      const request =
        channel.kind === 'slack' ? slackRequest(n) : webhookRequest(n, secretOf(secrets, channel.name), o.clock.now());
      result = await deliver(
        secrets.url(),
        request,
        { ...DEFAULT_DELIVERY_POLICY, ...o.backoff, maxAttempts: channel.maxAttempts, timeoutMs: channel.timeoutMs },
        { clock: o.clock, random: o.random, signal: this.#abort.signal },
      );
    } catch (error) {
      // A secret file that vanished, or a cancelled wait: the message names variables only.
      result = { delivered: false, attempts: 0, status: undefined, error: (error as Error).message };
    }
    const record: DeliveryRecord = {
      at: o.clock.now(),
      notificationId: n.id,
      channel: channel.name,
      event: n.event,
      target: n.target,
      ...result,
    };
    o.metrics?.notifications.inc({ channel: channel.name, event: n.event, result: record.delivered ? 'delivered' : 'failed' });
    const fields = { channel: channel.name, event: n.event, target: n.target, attempts: record.attempts, status: record.status, error: record.error };
    if (record.delivered) o.logger.info(fields, 'notification: delivered');
    else o.logger.warn(fields, 'notification: not delivered');
    await o.log.append(record).catch((error: unknown) =>
      o.logger.warn({ err: { message: (error as Error).message } }, 'notification: could not record the delivery'),
    );
    return record;
  }

  /** Stops waiting between retries (deliveries in progress end as failed) and waits for them. */
  async close(): Promise<void> {
    this.#abort.abort(new Error('shutting down'));
    await Promise.allSettled([...this.#inFlight]);
  }
}

function secretOf(secrets: ChannelSecrets, channel: string): string {
  const secret = secrets.secret();
  if (secret === undefined) throw new Error(`channel ${channel}: no signing secret (ROTATOR_NOTIFY_SECRET__…)`);
  return secret;
}
