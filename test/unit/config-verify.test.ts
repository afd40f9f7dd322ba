import { describe, expect, it } from 'vitest';
import { targetSchema } from '../../src/config/target-schema.js';

const base = { name: 'web', account: 'prod', schedule: '0 3 * * *', selector: { tags: { rotate: 'true' } } };

describe('job file: verify and keepCandidates', () => {
  it('defaults: verification off, root@:22 on the private address, 3 candidates kept', () => {
    const t = targetSchema.parse(base);
    expect(t.verify).toEqual({ method: 'none', user: 'root', port: 22, address: 'private', timeoutMs: 10_000, concurrency: 16 });
    expect(t.keepCandidates).toBe(3);
  });

  it('accepts a full ssh block', () => {
    const t = targetSchema.parse({ ...base, verify: { method: 'ssh', user: 'ops-admin', port: 2222, address: 'floating', timeoutMs: 5000, concurrency: 4 }, keepCandidates: 5 });
    expect(t.verify).toEqual({ method: 'ssh', user: 'ops-admin', port: 2222, address: 'floating', timeoutMs: 5000, concurrency: 4 });
    expect(t.keepCandidates).toBe(5);
  });

  it('rejects unknown keys and bad values, naming each field and what was expected', () => {
    const r = targetSchema.safeParse({ ...base, verify: { method: 'telnet', port: 0, address: 'lan', timeoutMs: 10, concurrency: 0, user: 'r oot', pasword: 'x' }, keepCandidates: 1 });
    expect(r.success).toBe(false);
    const issues = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^verify\.method: .*ssh \| none/),
        expect.stringMatching(/^verify\.port: .*an integer from 1 to 65535/),
        expect.stringMatching(/^verify\.address: .*private \| public \| floating/),
        expect.stringMatching(/^verify\.timeoutMs: .*an integer from 500 to 120000/),
        expect.stringMatching(/^verify\.concurrency: .*an integer from 1 to 256/),
        expect.stringMatching(/^verify\.user: .*a login name/),
        expect.stringMatching(/^keepCandidates: .*an integer from 3 to 10/),
      ]),
    );
    expect(issues.some((i) => i.includes('pasword'))).toBe(true);
  });
});
