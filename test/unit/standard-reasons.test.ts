import { describe, expect, it } from 'vitest';
import {
  awaitingRestartReason,
  DRY_RUN_REASON,
  NO_PLUGIN_CODES,
  NO_RESET_PLUGIN_REASON,
  noResetPluginAnsweredReason,
  reasonFromStored,
  storedReason,
} from '../../src/domain/standard-reasons.js';

describe('standard reasons: stored by a short key, read back in full', () => {
  const standard = [
    NO_RESET_PLUGIN_REASON,
    DRY_RUN_REASON,
    ...NO_PLUGIN_CODES.flatMap((code) => [noResetPluginAnsweredReason("run's dry-run preflight", code), noResetPluginAnsweredReason('dry-run preflight', code)]),
    ...[3, 4, 10].flatMap((keep) => [awaitingRestartReason(keep, false), awaitingRestartReason(keep, true)]),
  ];

  it('every sentence the rotation says for these outcomes is stored in at most 64 bytes (Redis\'s compact hash limit) and read back as it was', () => {
    expect(new Set(standard).size).toBe(standard.length);
    for (const sentence of standard) {
      const stored = storedReason(sentence);
      expect(stored).toMatch(/^@[a-z]+(\/[\w.]+)*$/);
      expect(Buffer.byteLength(stored)).toBeLessThanOrEqual(64);
      expect(reasonFromStored(stored)).toBe(sentence);
    }
    expect(storedReason(awaitingRestartReason(3, false))).toBe('@ar/3');
    expect(storedReason(awaitingRestartReason(3, true))).toBe('@arv/3');
  });

  it('keeps any other reason as it is, one that starts with the mark included, and gives back an unknown key as stored', () => {
    for (const reason of ['the plug-in is missing', '', 'status is SHUTOFF, a reset needs ACTIVE', `${DRY_RUN_REASON}.`, '@ar/3', '@@x', '@']) {
      expect(reasonFromStored(storedReason(reason))).toBe(reason);
    }
    expect(storedReason('the plug-in is missing')).toBe('the plug-in is missing');
    expect(storedReason('@ar/3')).toBe('@@ar/3');
    // Written by a newer release with a key this one does not know.
    expect(reasonFromStored('@zz/1')).toBe('@zz/1');
  });
});
