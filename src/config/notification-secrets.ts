/**
 * The secrets of notification channels, from the environment only (like every credential):
 * - `ROTATOR_NOTIFY_SECRET__<NAME>` / `ROTATOR_NOTIFY_SECRET_FILE__<NAME>`: the HMAC key a webhook's
 *   body is signed with (required for `kind: webhook`);
 * - `ROTATOR_NOTIFY_URL__<NAME>` / `ROTATOR_NOTIFY_URL_FILE__<NAME>`: the URL, when it is not in the
 *   YAML (always for Slack, whose URL carries its token).
 * `<NAME>` is the channel name upper-cased, every other character than a letter or digit as `_`.
 * Files are re-read on every delivery, so a rotated secret is used without a restart.
 */
import { accountEnvSuffix } from './credentials.js';
import { configIssue, type ConfigIssue } from './config-issue.js';
import { lookupEnvSecret, type Env, type EnvSecretRef, type SecretSource } from './env-secret.js';
import type { NotificationChannelConfig } from './service-schema.js';
import type { TargetConfig } from './target-schema.js';

export interface ChannelSecrets {
  /** The URL to post to, read now. */
  url(): string;
  /** The signing secret (webhooks), read now. */
  secret(): string | undefined;
  readonly sources: { readonly url: SecretSource | 'config'; readonly secret: SecretSource | undefined };
}

export function notificationVariables(channel: string) {
  const suffix = accountEnvSuffix(channel);
  return {
    secret: `ROTATOR_NOTIFY_SECRET__${suffix}`,
    secretFile: `ROTATOR_NOTIFY_SECRET_FILE__${suffix}`,
    url: `ROTATOR_NOTIFY_URL__${suffix}`,
    urlFile: `ROTATOR_NOTIFY_URL_FILE__${suffix}`,
  };
}

export function planNotificationSecrets(
  channels: readonly NotificationChannelConfig[],
  targets: readonly Pick<TargetConfig, 'name' | 'notify' | 'file'>[],
  env: Env,
  cwd: string,
): { issues: ConfigIssue[]; secrets: Map<string, ChannelSecrets> } {
  const issues: ConfigIssue[] = [];
  const secrets = new Map<string, ChannelSecrets>();
  const names = new Set(channels.map((c) => c.name));
  for (const t of targets) {
    t.notify.forEach((name, index) => {
      if (!names.has(name)) {
        issues.push(
          configIssue(t.file, `notify.${index}`, `the name of a channel in the service config notifications.channels (${[...names].join(', ') || 'none defined'})`, JSON.stringify(name)),
        );
      }
    });
  }
  for (const channel of channels) {
    const v = notificationVariables(channel.name);
    let urlRef: EnvSecretRef | undefined;
    const url = lookupEnvSecret(env, v.url, v.urlFile, cwd);
    if (url.kind === 'invalid') issues.push(configIssue('environment', v.url, `the URL of notification channel ${channel.name}`, url.problem));
    else if (url.kind === 'found') {
      if (channel.url !== undefined) {
        issues.push(configIssue('environment', v.url, `the URL of channel ${channel.name} in one place only`, 'it is set both in the config file and in the environment'));
      } else if (!/^https?:\/\/[^\s]+$/.test(url.ref.read()) || !URL.canParse(url.ref.read())) {
        issues.push(configIssue('environment', v.url, 'an http(s) URL', 'another value'));
      } else urlRef = url.ref;
    } else if (channel.url === undefined) {
      issues.push(configIssue('environment', v.url, `the URL of notification channel ${channel.name} in ${v.url} or ${v.urlFile}${channel.kind === 'webhook' ? ' (or url: in the config file)' : ''}`, 'neither is set'));
    }
    let secretRef: EnvSecretRef | undefined;
    const secret = lookupEnvSecret(env, v.secret, v.secretFile, cwd);
    if (secret.kind === 'invalid') issues.push(configIssue('environment', v.secret, `the signing secret of channel ${channel.name}`, secret.problem));
    else if (secret.kind === 'found') secretRef = secret.ref;
    else if (channel.kind === 'webhook') {
      issues.push(configIssue('environment', v.secret, `the signing secret of webhook channel ${channel.name} in ${v.secret} or ${v.secretFile}`, 'neither is set'));
    }
    const configuredUrl = channel.url;
    secrets.set(channel.name, {
      url: () => configuredUrl ?? urlRef!.read(),
      secret: () => secretRef?.read(),
      sources: { url: configuredUrl !== undefined || urlRef === undefined ? 'config' : urlRef.source, secret: secretRef?.source },
    });
  }
  return { issues, secrets };
}
