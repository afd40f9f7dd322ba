/**
 * `rotator rotate` refuses bad arguments before it touches Redis or the queue, naming the option
 * and what it expected (the real CLI as a child process, on the shipped config and jobs).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'rotator.js');
function rotator(args: string[]): { status: number | null; stderr: string; stdout: string } {
  // An unreachable Redis: none of these may get as far as connecting.
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1', ROTATOR_LOG_LEVEL: 'silent' },
    timeout: 60_000,
  });
  return { status: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('rotator rotate: argument errors', () => {
  it('an unknown restart policy', () => {
    const r = rotator(['rotate', 'demo', '--restart', 'reboot']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--restart: expected none, soft or hard, found "reboot"');
  });

  it('malformed server ids', () => {
    const r = rotator(['rotate', 'demo', '--servers', 'ok-1,not ok!']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--servers: expected comma-separated ECS server ids');
  });

  it('an unknown target, listing the known ones', () => {
    const r = rotator(['rotate', 'nosuch']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('target: "nosuch" is not configured (known: demo)');
  });

  it('a bad timeout', () => {
    const r = rotator(['rotate', 'demo', '--wait', '--timeout', 'soon']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--timeout: expected a number of seconds, found "soon"');
  });
});
