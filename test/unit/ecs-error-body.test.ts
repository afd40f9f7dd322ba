import { describe, expect, it } from 'vitest';
import { parseErrorBody, scrubRemoteText } from '../../src/adapters/huawei-ecs/error-body.js';
import { EcsApiError } from '../../src/adapters/huawei-ecs/ecs-api-error.js';
import { RotatorError } from '../../src/domain/rotator-error.js';

describe('parseErrorBody', () => {
  it('reads the ECS format with internalError and details', () => {
    const body = JSON.stringify({
      error: { code: 'Ecs.0611', message: 'batch failed', details: [{ code: 'Ecs.0613', message: 'no plug-in' }] },
      internalError: [{ id: 'a', error_code: 'Ecs.0613', error_message: 'no plug-in' }, { bogus: true }, { id: 'b' }],
    });
    expect(parseErrorBody(body, [])).toEqual({
      code: 'Ecs.0611',
      message: 'batch failed',
      requestId: undefined,
      internalErrors: [
        { serverId: 'a', code: 'Ecs.0613', message: 'no plug-in' },
        // An entry without its own code inherits the call's code rather than being dropped.
        { serverId: 'b', code: 'Ecs.0611', message: '' },
      ],
      details: [{ code: 'Ecs.0613', message: 'no plug-in' }],
    });
  });

  it('reads an internalError entry whose message is spelled error_msg (as well as error_message)', () => {
    const body = JSON.stringify({
      error: { code: 'Ecs.0611', message: 'batch failed' },
      internalError: [
        { id: 'a', error_code: 'Ecs.0613', error_msg: 'plug-in missing' },
        { id: 'b', error_code: 'Ecs.0100', error_message: 'wrong state' },
      ],
    });
    expect(parseErrorBody(body, [])?.internalErrors).toEqual([
      { serverId: 'a', code: 'Ecs.0613', message: 'plug-in missing' },
      { serverId: 'b', code: 'Ecs.0100', message: 'wrong state' },
    ]);
  });

  it('reads the gateway format', () => {
    expect(parseErrorBody('{"error_code":"APIGW.0308","error_msg":"throttled","request_id":"r1"}', [])).toMatchObject({
      code: 'APIGW.0308',
      message: 'throttled',
      requestId: 'r1',
    });
  });

  it.each(['', '<html>502</html>', '{"error": {"code": "Ecs', 'null', '[1,2]', '"text"', '{}', '{"error": 5}'])(
    'returns undefined for %j instead of throwing',
    (text) => {
      expect(parseErrorBody(text, [])).toBeUndefined();
    },
  );

  it('scrubs secrets, control characters and length from remote text', () => {
    const parsed = parseErrorBody(JSON.stringify({ error: { code: 'Ecs.0011', message: 'bad Secret!Pw1 here\n\tnext' } }), ['Secret!Pw1']);
    expect(parsed?.message).toBe('bad [REDACTED] here next');
    expect(scrubRemoteText('x'.repeat(1000), []).length).toBeLessThanOrEqual(301);
  });
});

describe('EcsApiError', () => {
  it('is a RotatorError whose JSON form has the fields the queue and logs need', () => {
    const error = new EcsApiError({
      code: 'Ecs.0611',
      message: 'ECS batchResetPasswords failed: HTTP 400',
      retryable: false,
      httpStatus: 400,
      requestId: 'r',
      huaweiCode: 'Ecs.0611',
      operation: 'batchResetPasswords',
      internalErrors: [{ serverId: 'a', code: 'Ecs.0613', message: 'm' }],
    });
    expect(error).toBeInstanceOf(RotatorError);
    expect(error.name).toBe('EcsApiError');
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({
      name: 'EcsApiError',
      code: 'Ecs.0611',
      httpStatus: 400,
      requestId: 'r',
      attempts: 1,
      internalErrors: [{ serverId: 'a', code: 'Ecs.0613' }],
    });
    expect(error.withAttempts(3)).toMatchObject({ attempts: 3, code: 'Ecs.0611', requestId: 'r' });
  });
});
