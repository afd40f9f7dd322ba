import { OutcomeCode } from '../domain/error-codes.js';
import type { EcsServer } from '../domain/server.js';
import { NO_RESET_PLUGIN_REASON } from '../domain/standard-reasons.js';

/** Why a server is not rotated in this run (an outcome `skipped` with this code). */
export type IneligibilityCode = (typeof OutcomeCode)['locked' | 'status' | 'osTypeUnknown' | 'noResetPlugin'];

export type Eligibility = { eligible: true } | { eligible: false; code: IneligibilityCode; reason: string };

/**
 * Whether the batch reset can be expected to work on `server`, checked in the order an operator
 * would fix things: a locked server refuses everything (Ecs.0605); only ACTIVE servers take a reset
 * (Ecs.0100); without the OS type the username (root/Administrator) and the Windows password rules
 * are unknown; without the reset plug-in the call is refused (Ecs.0613) or silently does nothing.
 * `resetFlag` is `resetpwd_flag`, undefined when it was not asked (then not held against the server).
 */
export function checkEligibility(server: EcsServer, resetFlag: boolean | undefined): Eligibility {
  if (server.locked) return { eligible: false, code: OutcomeCode.locked, reason: 'server is locked' };
  if (server.status !== 'ACTIVE') {
    return { eligible: false, code: OutcomeCode.status, reason: `status is ${server.status}, a reset needs ACTIVE` };
  }
  if (server.osType === undefined) {
    return { eligible: false, code: OutcomeCode.osTypeUnknown, reason: 'metadata.os_type is missing or not Linux/Windows' };
  }
  if (resetFlag === false) {
    return { eligible: false, code: OutcomeCode.noResetPlugin, reason: NO_RESET_PLUGIN_REASON };
  }
  return { eligible: true };
}
