import { describe, expect, it } from 'vitest';
import {
  compileSecretNameTemplate,
  DEFAULT_SECRET_NAME_TEMPLATE,
} from '../../src/adapters/aws-secrets-manager/secret-name-template.js';
import { decodeSecretPayload, encodeSecretPayload } from '../../src/adapters/aws-secrets-manager/secret-payload-codec.js';
import type { SecretPayload } from '../../src/ports/vault.js';

const key = { region: 'cn-north-4', projectId: '0a1b2c', serverId: 'f5b7c6a0-1111-2222-3333-444455556666' };

describe('secret name template', () => {
  it('renders, parses back and gives filter prefixes', () => {
    const t = compileSecretNameTemplate(DEFAULT_SECRET_NAME_TEMPLATE);
    const name = t.render(key);
    expect(name).toBe('ecs/cn-north-4/0a1b2c/f5b7c6a0-1111-2222-3333-444455556666');
    expect(t.parse(name)).toEqual(key);
    expect(t.parse('other/cn-north-4/0a1b2c/x')).toBeUndefined();
    expect(t.prefixFor({})).toBe('ecs/');
    expect(t.prefixFor({ region: 'cn-north-4' })).toBe('ecs/cn-north-4/');
    expect(t.prefixFor({ region: 'cn-north-4', projectId: 'p' })).toBe('ecs/cn-north-4/p/');
    expect(t.prefixFor({ projectId: 'p' })).toBe('ecs/');
  });

  it('supports other layouts and literal characters AWS allows', () => {
    const t = compileSecretNameTemplate('prod+rotator/{serverId}@{region}');
    expect(t.render(key)).toBe(`prod+rotator/${key.serverId}@cn-north-4`);
    expect(t.prefixFor({ region: 'x' })).toBe('prod+rotator/');
  });

  it.each([
    ['ecs/{region}/{projectId}', /must contain \{serverId\}/],
    ['ecs/{serverId}/{foo}', /unknown placeholder \{foo\}/],
    ['ecs/{serverId', /unmatched "\{"/],
    ['ecs/}{serverId}', /unmatched "\}"/],
    ['{serverId}/{serverId}', /appears twice/],
    ['{region}{serverId}', /need a separator/],
    ['ecs#{serverId}', /characters AWS secret names refuse/],
  ])('rejects %s', (template, message) => {
    expect(() => compileSecretNameTemplate(template)).toThrow(message);
  });

  it('rejects key values with a slash or characters AWS names refuse', () => {
    const t = compileSecretNameTemplate(DEFAULT_SECRET_NAME_TEMPLATE);
    expect(() => t.render({ ...key, region: 'a/b' })).toThrow(/region/);
    expect(() => t.render({ ...key, serverId: 'ä' })).toThrow(/serverId/);
    expect(() => t.render({ ...key, projectId: '' })).toThrow(/projectId/);
  });
});

describe('secret payload codec', () => {
  const payload: SecretPayload = {
    username: 'Administrator',
    password: 'p"\\w{}[]\u00e9',
    serverId: 's',
    serverName: 'название',
    osType: 'Windows',
    region: 'r',
    projectId: 'p',
    runId: 'run',
    createdAt: '2025-01-01T00:00:00.000Z',
    activation: 'next-restart',
  };

  it('writes the same text whatever the key order, and reads it back', () => {
    const reversed = Object.fromEntries(Object.entries(payload).reverse()) as unknown as SecretPayload;
    expect(encodeSecretPayload(reversed)).toBe(encodeSecretPayload(payload));
    expect(decodeSecretPayload(encodeSecretPayload(payload), 'w')).toEqual(payload);
  });

  it('names the bad field, never the text', () => {
    expect(() => decodeSecretPayload('not json p4ss', 'sec v1')).toThrow(/sec v1: expected JSON/);
    let thrown: unknown;
    try {
      decodeSecretPayload('{"password": "p4ss', 'w');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect((thrown as Error).message).not.toContain('p4ss');
    const wrong = JSON.stringify({ ...payload, osType: 'BeOS' });
    expect(() => decodeSecretPayload(wrong, 'w')).toThrow(/field osType: expected one of Linux, Windows/);
    const missing = JSON.stringify({ ...payload, password: 5 });
    expect(() => decodeSecretPayload(missing, 'w')).toThrow(/field password: expected a string, found number/);
    expect(() => decodeSecretPayload(undefined, 'w')).toThrow(/expected a SecretString/);
  });
});
