/**
 * The comparison point of the bench: what a new user writes first with Huawei's official Node SDK
 * (`@huaweicloud/huaweicloud-sdk-ecs`, a pinned dev dependency). List every server, then one
 * `BatchResetServersPassword` call after another, `perCall` servers a call (shared mode: one
 * password for all; unique mode: one call per server with its own password). No vault, no locks,
 * no retries, no record: it is a floor to compare with, not a safe tool.
 *
 * Run as its own process by bench/index.ts:
 *   node --import tsx bench/naive-sdk-loop.ts <endpoint> <projectId> <shared|unique> <perCall> <nameFilter>
 * with HOME pointing at a temporary directory (the SDK writes ~/.huaweicloud/application_id) and
 * HUAWEI_AK / HUAWEI_SK set. Prints one JSON line `{servers, calls, accepted, seconds}` last; the
 * SDK's own logging (it prints requests on errors) goes to this process's stdout/stderr, which the
 * parent does not show.
 */
import { BasicCredentials } from '@huaweicloud/huaweicloud-sdk-core';
import * as ecs from '@huaweicloud/huaweicloud-sdk-ecs';
import { cryptoRandom } from '../src/adapters/crypto-random.js';
import { generatePassword } from '../src/policy/password-generator.js';
import { DEFAULT_PASSWORD_POLICY } from '../src/policy/password-policy.js';

const [endpoint, projectId, mode, perCallText, nameFilter] = process.argv.slice(2);
const ak = process.env.HUAWEI_AK;
const sk = process.env.HUAWEI_SK;
if (!endpoint || !projectId || (mode !== 'shared' && mode !== 'unique') || !perCallText || !ak || !sk) {
  process.stderr.write('usage: naive-sdk-loop.ts <endpoint> <projectId> <shared|unique> <perCall> [nameFilter], HUAWEI_AK/HUAWEI_SK set\n');
  process.exit(2);
}
const perCall = mode === 'unique' ? 1 : Number(perCallText);

const client = ecs.EcsClient.newBuilder()
  .withCredential(new BasicCredentials().withAk(ak).withSk(sk).withProjectId(projectId))
  .withEndpoint(endpoint)
  .build();

const start = process.hrtime.bigint();
const ids: string[] = [];
const pageSize = 1000;
for (let page = 1; ; page++) {
  const request = new ecs.ListServersDetailsRequest().withLimit(pageSize).withOffset(page);
  if (nameFilter) request.withName(nameFilter);
  const answer = await client.listServersDetails(request);
  const servers = answer.servers ?? [];
  for (const s of servers) if (s.id) ids.push(s.id);
  if (servers.length < pageSize) break;
}

let calls = 0;
let accepted = 0;
let failedCalls = 0;
const shared = generatePassword(DEFAULT_PASSWORD_POLICY, cryptoRandom);
for (let i = 0; i < ids.length; i += perCall) {
  const part = ids.slice(i, i + perCall);
  const body = new ecs.BatchResetServersPasswordRequestBody()
    .withNewPassword(mode === 'shared' ? shared : generatePassword(DEFAULT_PASSWORD_POLICY, cryptoRandom))
    .withServers(part.map((id) => new ecs.ServerId().withId(id)));
  calls += 1;
  try {
    const answer = await client.batchResetServersPassword(new ecs.BatchResetServersPasswordRequest().withBody(body));
    accepted += answer.response?.length ?? 0;
  } catch {
    failedCalls += 1; // e.g. throttled: the naive loop does not retry
  }
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
process.stdout.write(`\n${JSON.stringify({ servers: ids.length, calls, failedCalls, accepted, seconds })}\n`);
