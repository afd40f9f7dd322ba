import { timingSafeEqual } from 'node:crypto';
import type { Clock } from '../ports/clock.js';
// Not the client's signer: the verification is its own reading of Huawei's document.
import { canonicalRequestOfReceived, expectedSignature, readAuthorization, readSdkDate } from './gateway-signature.js';

/** An AK/SK pair the simulated gateway accepts (with a security token for temporary credentials). */
export interface SimCredentials {
  accessKey: string;
  secretKey: string;
  securityToken?: string | undefined;
}

/** A request as it reached the simulator, before any interpretation. */
export interface ReceivedRequest {
  method: string;
  /** Raw path as received (still percent-encoded), without the query. */
  rawPath: string;
  /** Decoded query pairs, in the order received. */
  query: ReadonlyArray<readonly [string, string]>;
  /** Header values as received (node lower-cases names). */
  headers: Readonly<Record<string, string>>;
  body: Buffer;
}

/** An accepted IAM token. */
export interface SimToken {
  token: string;
  /** Epoch ms after which the token is expired (401 `APIGW.0307`). @defaultValue never */
  expiresAtMs?: number | undefined;
}

export type AuthResult = { ok: true; principal: string } | { ok: false; status: number; code: string; message: string };

/** The gateway's clock tolerance for `X-Sdk-Date`. */
export const MAX_DATE_SKEW_MS = 15 * 60_000;
/** More than this many consecutive bad signatures lock the AK ... */
export const LOCKOUT_THRESHOLD = 5;
/** ... for this long. */
export const LOCKOUT_MS = 5 * 60_000;

const SIGNATURE_FAIL = 'Incorrect IAM authentication information: verify aksk signature fail';

/**
 * The API gateway's authentication, as Huawei documents it: AK/SK signatures recomputed from the
 * request exactly as received (raw path, decoded-and-re-encoded query, the request's own
 * SignedHeaders, the raw body bytes), or an IAM token in `X-Auth-Token`.
 *
 * Stricter than the cloud where Huawei is vague (a client passing here passes there): `host`,
 * `x-sdk-date` and `x-project-id` must all be among the signed headers, and `x-project-id` must be
 * the simulator's project.
 */
export class GatewayAuth {
  private readonly secrets = new Map<string, SimCredentials>();
  private readonly tokens = new Map<string, SimToken>();
  private readonly failures = new Map<string, { consecutive: number; lockedUntil: number }>();

  constructor(
    credentials: readonly SimCredentials[],
    tokens: readonly SimToken[],
    private readonly projectId: string,
    private readonly clock: Clock,
  ) {
    for (const c of credentials) this.secrets.set(c.accessKey, c);
    for (const t of tokens) this.tokens.set(t.token, t);
  }

  authenticate(request: ReceivedRequest): AuthResult {
    const token = request.headers['x-auth-token'];
    if (token !== undefined) return this.checkToken(token);
    return this.checkSignature(request);
  }

  private checkToken(value: string): AuthResult {
    const known = this.tokens.get(value);
    if (!known) return deny(401, 'APIGW.0301', 'Incorrect IAM authentication information: decrypt token fail');
    if (known.expiresAtMs !== undefined && this.clock.now() >= known.expiresAtMs) {
      return deny(401, 'APIGW.0307', 'The token has expired');
    }
    return { ok: true, principal: 'token' };
  }

  private checkSignature(request: ReceivedRequest): AuthResult {
    const auth = readAuthorization(request.headers['authorization']);
    if (!auth) return deny(401, 'APIGW.0301', 'Incorrect IAM authentication information: Authorization header missing or malformed');
    const credentials = this.secrets.get(auth.accessKey);
    if (!credentials) return deny(401, 'APIGW.0301', 'Incorrect IAM authentication information: ak not found');

    const now = this.clock.now();
    const record = this.failures.get(auth.accessKey);
    if (record && record.lockedUntil > now) {
      // Even a correct signature is refused while the AK is locked, as the real gateway does.
      return deny(401, 'APIGW.0301', 'Incorrect IAM authentication information: the access key is locked after repeated signature failures');
    }
    if (record && record.lockedUntil !== 0) this.failures.delete(auth.accessKey);

    for (const required of ['host', 'x-sdk-date', 'x-project-id']) {
      if (!auth.signedHeaders.includes(required)) {
        return deny(401, 'APIGW.0301', `Incorrect IAM authentication information: header ${required} must be signed`);
      }
    }
    const sdkDate = request.headers['x-sdk-date'];
    const dateMs = sdkDate === undefined ? undefined : readSdkDate(sdkDate);
    if (dateMs === undefined) return deny(401, 'APIGW.0301', 'Incorrect IAM authentication information: x-sdk-date missing or malformed');
    if (Math.abs(now - dateMs) > MAX_DATE_SKEW_MS) {
      return deny(401, 'APIGW.0301', 'Incorrect IAM authentication information: x-sdk-date is more than 15 minutes from the server time');
    }
    if (credentials.securityToken !== undefined && request.headers['x-security-token'] !== credentials.securityToken) {
      return deny(401, 'APIGW.0301', 'Incorrect IAM authentication information: security token missing or wrong');
    }

    const canonical = canonicalRequestOfReceived(
      { method: request.method, rawPath: request.rawPath, decodedQuery: request.query, headers: request.headers, body: request.body },
      auth.signedHeaders,
    );
    const expected = expectedSignature(credentials.secretKey, sdkDate!, canonical);
    if (!sameHex(expected, auth.signature)) {
      const next = { consecutive: (this.failures.get(auth.accessKey)?.consecutive ?? 0) + 1, lockedUntil: 0 };
      if (next.consecutive > LOCKOUT_THRESHOLD) next.lockedUntil = now + LOCKOUT_MS;
      this.failures.set(auth.accessKey, next);
      return deny(401, 'APIGW.0301', SIGNATURE_FAIL);
    }
    this.failures.delete(auth.accessKey);

    const project = request.headers['x-project-id'];
    if (project !== this.projectId) {
      return deny(403, 'APIGW.0302', 'The IAM user is not authorized for the project in x-project-id');
    }
    return { ok: true, principal: auth.accessKey };
  }
}

function deny(status: number, code: string, message: string): AuthResult {
  return { ok: false, status, code, message };
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
