/**
 * How a notification is written on the wire, per channel kind:
 * - `webhook`: the notification as JSON, with `X-Rotator-Event`, `X-Rotator-Delivery` (the
 *   notification id), `X-Rotator-Timestamp` (Unix seconds) and `X-Rotator-Signature:
 *   sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. Signing the timestamp with the body lets a
 *   receiver refuse replays of an old delivery.
 * - `slack`: Slack's incoming-webhook format (`text` plus `blocks`), which Mattermost, Rocket.Chat and
 *   Teams' Slack-compatible connectors also accept.
 */
import { createHmac } from 'node:crypto';
import type { Notification } from './notification.js';

export interface WireRequest {
  headers: Record<string, string>;
  body: string;
}

export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function webhookRequest(n: Notification, secret: string, nowMs: number): WireRequest {
  const body = JSON.stringify(n);
  const timestamp = String(Math.floor(nowMs / 1000));
  return {
    headers: {
      'content-type': 'application/json',
      'user-agent': 'rotator-notifier',
      'x-rotator-event': n.event,
      'x-rotator-delivery': n.id,
      'x-rotator-timestamp': timestamp,
      'x-rotator-signature': signature(secret, timestamp, body),
    },
    body,
  };
}

/** Slack's mrkdwn treats &, < and > as control characters. */
function mrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function slackRequest(n: Notification): WireRequest {
  const lines: string[] = [];
  if (n.run) {
    const c = n.run.counts;
    lines.push(
      `*run* \`${mrkdwn(n.run.runId)}\` (${n.run.trigger}${n.run.dryRun ? ', dry run' : ''}): ${n.run.result}, ${n.run.servers} servers in ${n.run.durationSeconds}s`,
      `rotated ${c.rotated} · pending-restart ${c['pending-restart']} · failed ${c.failed} · unknown ${c.unknown} · skipped ${c.skipped} · busy ${c.busy}`,
    );
    if (n.run.error) lines.push(`error: ${mrkdwn(n.run.error)}`);
    if (n.run.problemServers.length > 0) lines.push(`servers: ${n.run.problemServers.map((id) => `\`${mrkdwn(id)}\``).join(', ')}`);
  }
  if (n.servers) {
    for (const s of n.servers.listed.slice(0, 20)) lines.push(`• \`${mrkdwn(s.serverId)}\` ${mrkdwn(s.reason ?? s.lastOutcome)}`);
    if (n.servers.count > 20) lines.push(`…and ${n.servers.count - 20} more (rotator report ${mrkdwn(n.target)})`);
  }
  const body = {
    text: n.summary,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${mrkdwn(n.summary)}*` } },
      ...(lines.length > 0 ? [{ type: 'section', text: { type: 'mrkdwn', text: lines.join('\n').slice(0, 2900) } }] : []),
    ],
  };
  return { headers: { 'content-type': 'application/json', 'user-agent': 'rotator-notifier' }, body: JSON.stringify(body) };
}
