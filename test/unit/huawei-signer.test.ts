import { describe, expect, it } from 'vitest';
import {
  canonicalRequest,
  canonicalQueryString,
  percentEncode,
  sha256Hex,
  signRequest,
  parseAuthorization,
} from '../../src/adapters/huawei-ecs/signer.js';

// Huawei's published test vector (../shared/docs/huawei-ecs-api.md, "AK/SK signing").
const vector = {
  request: {
    method: 'GET',
    path: '/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs',
    query: [
      ['limit', '2'],
      ['marker', '13551d6b-755d-4757-b956-536f674975c0'],
    ] as [string, string][],
    headers: {
      'Content-Type': 'application/json',
      Host: 'service.region.example.com',
      'X-Sdk-Date': '20191115T033655Z',
    },
    body: '',
  },
  ak: 'QTWAOYTTINDUT2QVKYUC',
  sk: 'MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc',
  canonical:
    'GET\n/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\nlimit=2&marker=13551d6b-755d-4757-b956-536f674975c0\ncontent-type:application/json\nhost:service.region.example.com\nx-sdk-date:20191115T033655Z\n\ncontent-type;host;x-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  canonicalHash: 'b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a',
  authorization:
    'SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe',
};

describe('SDK-HMAC-SHA256 signer', () => {
  it("reproduces Huawei's canonical request byte for byte", () => {
    const canonical = canonicalRequest(vector.request, ['content-type', 'host', 'x-sdk-date']);
    expect(canonical).toBe(vector.canonical);
    expect(sha256Hex(canonical)).toBe(vector.canonicalHash);
  });

  it("reproduces Huawei's Authorization header", () => {
    const headers = signRequest(vector.request, { accessKey: vector.ak, secretKey: vector.sk }, Date.UTC(2030, 0, 1));
    expect(headers.Authorization).toBe(vector.authorization);
    // The date given by the caller is kept, not replaced by the clock.
    expect(headers['X-Sdk-Date']).toBe('20191115T033655Z');
    expect(parseAuthorization(headers.Authorization)).toEqual({
      accessKey: vector.ak,
      signedHeaders: ['content-type', 'host', 'x-sdk-date'],
      signature: '7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe',
    });
  });

  it('percent-encodes query names and values per RFC 3986 and sorts them', () => {
    expect(percentEncode("a b!'()*~._-")).toBe('a%20b%21%27%28%29%2A~._-');
    expect(canonicalQueryString([['tags', 'env=prod'], ['name', 'web 01/ä'], ['limit', '25']])).toBe(
      'limit=25&name=web%2001%2F%C3%A4&tags=env%3Dprod',
    );
  });

  // ../shared/docs/huawei-ecs-api.md, step 4: sort raw names, then raw values of a repeated name,
  // only then encode. Each expected string below is worked out by hand from that rule.
  it('sorts repeated names by their raw values before encoding (team-owner=b before team=a)', () => {
    expect(canonicalQueryString([['tags', 'team=a'], ['tags', 'team-owner=b']])).toBe('tags=team-owner%3Db&tags=team%3Da');
    expect(canonicalQueryString([['tags', 'app=x'], ['tags', 'app.name=y']])).toBe('tags=app.name%3Dy&tags=app%3Dx');
  });

  it('sorts names raw: a~ before aä, although encoded aä (a%C3%A4) would come first', () => {
    expect(canonicalQueryString([['aä', '1'], ['a~', '2']])).toBe('a~=2&a%C3%A4=1');
    expect(canonicalQueryString([['a.b', '2'], ['a-b', '1'], ['a', '3'], ['A', '4']])).toBe('A=4&a=3&a-b=1&a.b=2');
  });

  it('keeps empty values as name= and sorts them first among equal names', () => {
    expect(canonicalQueryString([['name', ''], ['a', 'x']])).toBe('a=x&name=');
    expect(canonicalQueryString([['tags', 'x'], ['tags', '']])).toBe('tags=&tags=x');
    expect(canonicalQueryString([])).toBe('');
  });

  it("encodes reserved characters (also !'()*), spaces, + and % and UTF-8 bytes, uppercase hex", () => {
    expect(canonicalQueryString([['ü', '😀 +%'], ['q', "!'()*/?#[]@&="]])).toBe(
      'q=%21%27%28%29%2A%2F%3F%23%5B%5D%40%26%3D&%C3%BC=%F0%9F%98%80%20%2B%25',
    );
  });

  it('canonicalises the path per segment with a trailing slash, and signs header values trimmed', () => {
    const request = { ...vector.request, path: '/v1/p/a b/ä', headers: { ...vector.request.headers, 'X-Extra': '  v  ' } };
    const canonical = canonicalRequest(request, ['content-type', 'host', 'x-extra', 'x-sdk-date']).split('\n');
    expect(canonical[1]).toBe('/v1/p/a%20b/%C3%A4/');
    expect(canonical).toContain('x-extra:v');
  });

  it('does not sign User-Agent', () => {
    const headers = signRequest(
      { ...vector.request, headers: { ...vector.request.headers, 'User-Agent': 'rotator/0.1' } },
      { accessKey: vector.ak, secretKey: vector.sk },
      0,
    );
    expect(headers.Authorization).toBe(vector.authorization);
  });
});
