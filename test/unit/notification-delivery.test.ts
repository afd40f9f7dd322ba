/**
 * The delivery retry rules, against real HTTP servers on port 0: 4xx is final, 5xx/429 and network
 * errors are retried up to maxAttempts with backoff (full jitter, capped; Retry-After honoured).
 * The waits go through an injected clock that records them (no real sleeping).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { deliver, DEFAULT_DELIVERY_POLICY } from '../../src/notifications/delivery.js';
import { signature, slackRequest, webhookRequest } from '../../src/notifications/channel-formats.js';
import { runFailedNotification } from '../../src/notifications/notification.js';

function recordingClock() {
  const waits: number[] = [];
  return { waits, clock: { now: () => Date.now(), sleep: async (ms: number) => void waits.push(ms) } };
}
const maxRandom = { int: (n: number) => n - 1 };

async function serve(statuses: number[], headers: Record<string, string> = {}) {
  let i = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(statuses[Math.min(i++, statuses.length - 1)]!, headers).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, calls: () => i, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const request = { headers: { 'content-type': 'application/json' }, body: '{}' };

describe('notification delivery', () => {
  it('a 4xx answer is final: one attempt, not delivered, no wait', async () => {
    const s = await serve([400]);
    const { clock, waits } = recordingClock();
    const r = await deliver(s.url, request, DEFAULT_DELIVERY_POLICY, { clock, random: maxRandom });
    expect(r).toEqual({ delivered: false, attempts: 1, status: 400, error: 'HTTP 400' });
    expect(waits).toEqual([]);
    await s.close();
  });

  it('5xx then success: retried with doubling backoff ceilings', async () => {
    const s = await serve([500, 502, 503, 204]);
    const { clock, waits } = recordingClock();
    const r = await deliver(s.url, request, { ...DEFAULT_DELIVERY_POLICY, baseDelayMs: 100, maxDelayMs: 250 }, { clock, random: maxRandom });
    expect(r).toMatchObject({ delivered: true, attempts: 4, status: 204 });
    expect(waits).toEqual([100, 200, 250]);
    await s.close();
  });

  it('429 with Retry-After waits at least that long; attempts run out', async () => {
    const s = await serve([429], { 'retry-after': '2' });
    const { clock, waits } = recordingClock();
    const r = await deliver(s.url, request, { ...DEFAULT_DELIVERY_POLICY, maxAttempts: 3, baseDelayMs: 10 }, { clock, random: { int: () => 0 } });
    expect(r).toEqual({ delivered: false, attempts: 3, status: 429, error: 'HTTP 429' });
    expect(waits).toEqual([2000, 2000]);
    expect(s.calls()).toBe(3);
    await s.close();
  });

  it('a refused connection is retried and reported by its code, never by the URL', async () => {
    const s = await serve([200]);
    await s.close();
    const { clock, waits } = recordingClock();
    const r = await deliver(`${s.url}T000/B000/secret-token`, request, { ...DEFAULT_DELIVERY_POLICY, maxAttempts: 2 }, { clock, random: maxRandom });
    expect(r).toMatchObject({ delivered: false, attempts: 2, status: undefined, error: 'ECONNREFUSED' });
    expect(waits).toHaveLength(1);
  });

  it('webhook signature: HMAC-SHA256 over "<timestamp>.<body>"; Slack body: text and blocks', () => {
    // The oracle is OpenSSL: printf '%s' '1767225600.{"a":1}' | openssl dgst -sha256 -hmac Jefe
    expect(signature('Jefe', '1767225600', '{"a":1}')).toBe('sha256=bb7f7f576d169b57777ab3f8cf1a3b51416fd9eba32fdcb6f59ea046006c32b8');
    const n = runFailedNotification(
      {
        runId: 'run|web|manual-1', target: 'web', trigger: 'manual', dryRun: false, result: 'partial', enqueuedAt: 0, finishedAt: 61_000, servers: 3,
        counts: { rotated: 2, 'pending-restart': 0, failed: 1, unknown: 0, skipped: 0, busy: 0 }, failedBatches: 0, problemServers: ['<srv>'],
      },
      Date.UTC(2026, 0, 1),
    );
    const w = webhookRequest(n, 'k', Date.UTC(2026, 0, 1));
    expect(w.headers['x-rotator-timestamp']).toBe(String(Date.UTC(2026, 0, 1) / 1000));
    expect(w.headers['x-rotator-signature']).toBe(signature('k', w.headers['x-rotator-timestamp']!, w.body));
    expect(JSON.parse(w.body)).toMatchObject({ event: 'run-failed', run: { durationSeconds: 61, result: 'partial' } });
    const slack = JSON.parse(slackRequest(n).body);
    expect(slack.text).toBe('rotator: run of web ended with 1 of 3 server(s) failed or unknown');
    expect(JSON.stringify(slack.blocks)).toContain('&lt;srv&gt;');
  });
});
