import { describe, expect, it } from 'vitest';
import { classifyBatchReset, mustStopRun } from '../../src/adapters/huawei-ecs/batch-reset-classification.js';
import { EcsApiError } from '../../src/adapters/huawei-ecs/ecs-api-error.js';
import type { EcsApiErrorOptions } from '../../src/adapters/huawei-ecs/ecs-api-error.js';

const ids = ['a', 'b', 'c'];
const err = (o: Partial<EcsApiErrorOptions> & { code: string }): EcsApiError =>
  new EcsApiError({ message: 'm', retryable: false, ...o, huaweiCode: 'huaweiCode' in o ? o.huaweiCode : o.code });
const kinds = (answer: Parameters<typeof classifyBatchReset>[1]) =>
  classifyBatchReset(ids, answer).map((r) => `${r.serverId}:${r.kind}${r.kind === 'accepted' ? '' : `:${r.code}`}`);

describe('classifyBatchReset', () => {
  it('answered: accepted when listed, rejected from internalError, unknown otherwise or when contradictory', () => {
    expect(
      kinds({
        kind: 'answered',
        acceptedIds: ['a', 'c', 'zzz'],
        internalErrors: [
          { serverId: 'b', code: 'Ecs.0613', message: 'no plug-in' },
          { serverId: 'c', code: 'Ecs.0605', message: 'locked' },
        ],
        requestId: undefined,
      }),
    ).toEqual(['a:accepted', 'b:rejected:Ecs.0613', 'c:unknown:CONTRADICTORY_ANSWER']);
    expect(kinds({ kind: 'answered', acceptedIds: [], internalErrors: [], requestId: undefined })).toEqual([
      'a:unknown:NOT_IN_RESPONSE',
      'b:unknown:NOT_IN_RESPONSE',
      'c:unknown:NOT_IN_RESPONSE',
    ]);
  });

  it('failed with internalError: listed rejected with their own code, the rest unknown with the call code', () => {
    const error = err({ code: 'Ecs.0611', httpStatus: 400, internalErrors: [{ serverId: 'b', code: 'Ecs.0100', message: 'status' }] });
    expect(kinds({ kind: 'failed', error })).toEqual(['a:unknown:Ecs.0611', 'b:rejected:Ecs.0100', 'c:unknown:Ecs.0611']);
  });

  it('failed as a whole with a definite 4xx code: every server rejected', () => {
    for (const code of ['Ecs.0011', 'Ecs.0100', 'Ecs.0605', 'Ecs.0614']) {
      expect(kinds({ kind: 'failed', error: err({ code, httpStatus: code === 'Ecs.0614' ? 404 : 400 }) })).toEqual(
        ids.map((id) => `${id}:rejected:${code}`),
      );
    }
  });

  it('after an earlier attempt that may have been carried out, every refusal is unknown (REFUSED_AFTER_UNCERTAIN_ATTEMPT)', () => {
    const uncertain = (answer: Parameters<typeof classifyBatchReset>[1]) =>
      classifyBatchReset(ids, answer, { earlierAttemptMayHaveBeenProcessed: true }).map((r) => `${r.serverId}:${r.kind}${r.kind === 'accepted' ? '' : `:${r.code}`}`);
    const answered = { kind: 'answered', acceptedIds: ['a'], internalErrors: [{ serverId: 'b', code: 'Ecs.0605', message: 'locked' }], requestId: undefined } as const;
    expect(kinds(answered)).toEqual(['a:accepted', 'b:rejected:Ecs.0605', 'c:unknown:NOT_IN_RESPONSE']);
    expect(uncertain(answered)).toEqual(['a:accepted', 'b:unknown:REFUSED_AFTER_UNCERTAIN_ATTEMPT', 'c:unknown:NOT_IN_RESPONSE']);
    const partial = err({ code: 'Ecs.0611', httpStatus: 400, internalErrors: [{ serverId: 'b', code: 'Ecs.0100', message: 'status' }] });
    expect(uncertain({ kind: 'failed', error: partial })).toEqual(['a:unknown:Ecs.0611', 'b:unknown:REFUSED_AFTER_UNCERTAIN_ATTEMPT', 'c:unknown:Ecs.0611']);
    expect(uncertain({ kind: 'failed', error: err({ code: 'Ecs.0011', httpStatus: 400 }) })).toEqual(ids.map((id) => `${id}:unknown:REFUSED_AFTER_UNCERTAIN_ATTEMPT`));
  });

  it('never "rejected" without a definite answer: summaries, transient, network, 5xx, unreadable → unknown', () => {
    const cases: EcsApiError[] = [
      err({ code: 'Ecs.0611', httpStatus: 400 }),
      err({ code: 'Ecs.0610', httpStatus: 400 }),
      err({ code: 'Common.1503', httpStatus: 503, retryable: true }),
      err({ code: 'APIGW.0308', httpStatus: 429, retryable: true }),
      err({ code: 'Ecs.0001', httpStatus: 501 }),
      err({ code: 'TIMEOUT', huaweiCode: undefined, retryable: true }),
      err({ code: 'ECONNRESET', huaweiCode: undefined, retryable: true }),
      err({ code: 'BAD_RESPONSE', huaweiCode: undefined, httpStatus: 200 }),
      err({ code: 'HTTP_400', huaweiCode: undefined, httpStatus: 400 }),
    ];
    for (const error of cases) {
      expect(kinds({ kind: 'failed', error })).toEqual(ids.map((id) => `${id}:unknown:${error.code}`));
    }
  });
});

describe('mustStopRun', () => {
  it.each([
    [err({ code: 'APIGW.0301', httpStatus: 401 }), true],
    [err({ code: 'APIGW.0307', httpStatus: 401 }), true],
    [err({ code: 'Ecs.0003', httpStatus: 403 }), true],
    [err({ code: 'HTTP_403', huaweiCode: undefined, httpStatus: 403 }), true],
    [err({ code: 'Ecs.0118', httpStatus: 400 }), true],
    [err({ code: 'Ecs.0005', httpStatus: 400 }), true],
    [err({ code: 'Common.0002', httpStatus: 400 }), true],
    [err({ code: 'APIGW.0101', httpStatus: 404 }), true],
    [err({ code: 'APIGW.0308', httpStatus: 429, retryable: true }), false],
    [err({ code: 'APIGW.0201', httpStatus: 502, retryable: true }), false],
    [err({ code: 'Ecs.0011', httpStatus: 400 }), false],
    [err({ code: 'Ecs.0005', httpStatus: 400, internalErrors: [{ serverId: 'a', code: 'Ecs.0005', message: '' }] }), false],
    [err({ code: 'TIMEOUT', huaweiCode: undefined }), false],
  ])('%s → %s', (error, expected) => {
    expect(mustStopRun(error)).toBe(expected);
  });
});
