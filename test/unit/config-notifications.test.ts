/**
 * Notification channels and the compliance policy in the config: validated with every problem
 * named, secrets only from the environment (value or _FILE), a Slack URL never from YAML.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, type LoadConfigOptions } from '../../src/config/index.js';

const temps: string[] = [];
afterEach(async () => {
  await Promise.all(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function setup(service: string, job: string): Promise<Partial<LoadConfigOptions>> {
  const dir = await mkdtemp(join(tmpdir(), 'rotator-notify-config-'));
  temps.push(dir);
  await mkdir(join(dir, 'jobs'));
  await writeFile(join(dir, 'service.yaml'), service);
  await writeFile(join(dir, 'jobs', 'web.yaml'), `name: web\naccount: demo\nschedule: "0 3 * * *"\nselector: { tags: { rotate: "true" } }\n${job}`);
  return { configPath: join(dir, 'service.yaml'), jobsDir: join(dir, 'jobs'), cwd: dir };
}

const CHANNELS = `notifications:
  channels:
    - { name: ops-hook, kind: webhook, url: "https://hooks.example.com/rotator" }
    - { name: chat, kind: slack, targets: listed, events: [run-failed] }
`;

describe('config: notifications and maxPasswordAgeDays', () => {
  it('loads channels with defaults; secrets from env and files, read on use', async () => {
    const opts = await setup(CHANNELS, 'notify: [chat]\nmaxPasswordAgeDays: 30\n');
    await writeFile(join(opts.cwd!, 'slack-url'), 'https://hooks.slack.com/services/T000/B000/XXXX\n');
    const result = await loadConfig({ ...opts, env: { ROTATOR_NOTIFY_SECRET__OPS_HOOK: 's3cret-s3cret', ROTATOR_NOTIFY_URL_FILE__CHAT: 'slack-url' } } as LoadConfigOptions);
    if (!result.ok) throw new Error(result.issues.map((i) => i.message).join('\n'));
    const { config } = result;
    expect(config.service.notifications.checkIntervalSeconds).toBe(300);
    expect(config.service.notifications.channels[0]).toMatchObject({ name: 'ops-hook', events: ['run-failed', 'server-overdue', 'server-recovered'], targets: 'all', maxAttempts: 5, timeoutMs: 10_000 });
    expect(config.target('web')).toMatchObject({ notify: ['chat'], maxPasswordAgeDays: 30 });
    expect(config.notificationChannel('ops-hook')!.secret()).toBe('s3cret-s3cret');
    expect(config.notificationChannel('ops-hook')!.url()).toBe('https://hooks.example.com/rotator');
    expect(config.notificationChannel('chat')!.url()).toBe('https://hooks.slack.com/services/T000/B000/XXXX');
    // Nothing secret is reachable by serialising the config.
    expect(JSON.stringify(config)).not.toContain('s3cret');
    expect(JSON.stringify(config)).not.toContain('hooks.slack.com');
  });

  it('reports every problem at once, naming the field or variable', async () => {
    const opts = await setup(
      `notifications:
  checkIntervalSeconds: 1
  channels:
    - { name: ops-hook, kind: webhook, url: "https://hooks.example.com/rotator" }
    - { name: chat, kind: slack, url: "https://hooks.slack.com/services/T/B/X", events: [run-exploded] }
`,
      'notify: [pager]\nmaxPasswordAgeDays: 0\n',
    );
    const result = await loadConfig({ ...opts, env: {} } as LoadConfigOptions);
    expect(result.ok).toBe(false);
    const messages = result.ok ? [] : result.issues.map((i) => i.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/notifications\.checkIntervalSeconds: expected an integer from 10 to 86400/),
        expect.stringMatching(/notifications\.channels\[1\]\.events\[0\]: expected one of run-failed \| server-overdue \| server-recovered, found "run-exploded"/),
        expect.stringMatching(/web\.yaml: maxPasswordAgeDays: expected a number above 0 and at most 3650/),
      ]),
    );
  });

  it('a Slack URL in YAML is refused (it is a secret)', async () => {
    const opts = await setup(
      `notifications:\n  channels:\n    - { name: chat, kind: slack, url: "https://hooks.slack.com/services/T/B/X" }\n`,
      '',
    );
    const result = await loadConfig({ ...opts, env: {} } as LoadConfigOptions);
    const messages = result.ok ? [] : result.issues.map((i) => i.message);
    expect(messages.join('\n')).toMatch(
      /notifications\.channels\[0\]\.url: expected no url for a slack channel \(a Slack webhook URL is a secret: set ROTATOR_NOTIFY_URL__CHAT or its _FILE form\)/,
    );
    expect(messages.join('\n')).not.toContain('hooks.slack.com');
  });

  it('missing secrets and unknown channels are errors naming the variables', async () => {
    const opts = await setup(CHANNELS, 'notify: [pager]\n');
    const result = await loadConfig({ ...opts, env: {} } as LoadConfigOptions);
    const messages = result.ok ? [] : result.issues.map((i) => i.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/notify\.0: expected the name of a channel in the service config notifications\.channels \(ops-hook, chat\), found "pager"/),
        expect.stringMatching(/ROTATOR_NOTIFY_SECRET__OPS_HOOK: expected the signing secret of webhook channel ops-hook in ROTATOR_NOTIFY_SECRET__OPS_HOOK or ROTATOR_NOTIFY_SECRET_FILE__OPS_HOOK, found neither is set/),
        expect.stringMatching(/ROTATOR_NOTIFY_URL__CHAT: expected the URL of notification channel chat in ROTATOR_NOTIFY_URL__CHAT or ROTATOR_NOTIFY_URL_FILE__CHAT, found neither is set/),
      ]),
    );
  });
});
