/**
 * Huawei's official Node SDK (`@huaweicloud/huaweicloud-sdk-ecs` 3.1.172 on `-core` 3.1.211, pinned
 * dev dependencies) driven against the running simulator over HTTP: a client written by others
 * signs, encodes and parses, so the simulator's gateway, routing and bodies are checked against
 * something that is not our own client. What it found was fixed in the simulator
 * (`server_id=id1,id2`).
 *
 * The SDK's User-Agent code writes ~/.huaweicloud/application_id: HOME points at a temp dir while
 * the SDK is loaded and used, and the SDK is imported only after that.
 */
import type { EcsClient } from '@huaweicloud/huaweicloud-sdk-ecs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CREDENTIALS } from '../../src/simulator/demo-credentials.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/simulator.js';
import type { SimServerSpec } from '../../src/simulator/sim-server.js';

type EcsModule = typeof import('@huaweicloud/huaweicloud-sdk-ecs');

const uuid = (n: number): string => `${String(n).padStart(8, '0')}-0000-4000-8000-${String(n).padStart(12, '0')}`;
const FLEET: SimServerSpec[] = Array.from({ length: 23 }, (_, i) => ({
  id: uuid(i + 1),
  name: `web-${i + 1}`,
  osType: i % 4 === 0 ? 'Windows' : 'Linux',
  status: 'ACTIVE',
  locked: false,
  plugin: true,
  // Tag values whose raw and encoded orders differ: the signing case that used to fail.
  tags: (i % 3 === 0 ? { team: 'a', 'team-owner': 'b' } : i % 3 === 1 ? { team: 'a' } : { app: 'x', 'app.name': 'y' }) as Record<string, string>,
  enterpriseProjectId: '0',
}));

let home: string;
let previousHome: string | undefined;
let sim: RunningSimulator;
let sdk: EcsModule;
let client: EcsClient;

beforeAll(async () => {
  previousHome = process.env['HOME'];
  home = await mkdtemp(join(tmpdir(), 'huaweicloud-home-'));
  process.env['HOME'] = home;
  sim = await startSimulator({ rebootDurationMs: 30, faults: { throttle: null }, fleet: { kind: 'servers', servers: FLEET } });
  const core = await import('@huaweicloud/huaweicloud-sdk-core');
  sdk = await import('@huaweicloud/huaweicloud-sdk-ecs');
  const credentials = new core.BasicCredentials()
    .withAk(DEMO_CREDENTIALS.accessKey)
    .withSk(DEMO_CREDENTIALS.secretKey)
    .withProjectId(sim.projectId);
  client = sdk.EcsClient.newBuilder().withCredential(credentials).withEndpoint(sim.url).build();
});

afterAll(async () => {
  await sim?.close();
  if (previousHome === undefined) delete process.env['HOME'];
  else process.env['HOME'] = previousHome;
  await rm(home, { recursive: true, force: true });
});

/** The SDK's exceptions carry the HTTP status and Huawei's code. */
async function sdkFailure(promise: Promise<unknown>): Promise<{ httpStatusCode?: number; errorCode?: string; errorMsg?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { httpStatusCode?: number; errorCode?: string; errorMsg?: string };
  }
  throw new Error('expected the SDK call to fail');
}

const serverIds = (ids: string[]) => ids.map((id) => new sdk.ServerId().withId(id));

function resetRequest(password: string | undefined, ids: string[], dryRun: boolean) {
  const body = new sdk.BatchResetServersPasswordRequestBody().withServers(serverIds(ids)).withDryRun(dryRun);
  if (password !== undefined) body.withNewPassword(password);
  return new sdk.BatchResetServersPasswordRequest().withBody(body);
}

describe("Huawei's official ECS SDK against the simulator", () => {
  it('lists every server by paging (offset is a page number), and filters by tags, also repeated ones', async () => {
    const seen: string[] = [];
    const limit = 5;
    let count = 0;
    for (let offset = 1; ; offset += 1) {
      const page = await client.listServersDetails(new sdk.ListServersDetailsRequest().withLimit(limit).withOffset(offset));
      expect(page.httpStatusCode).toBe(200);
      count = page.count ?? 0;
      seen.push(...(page.servers ?? []).map((s) => s.id ?? ''));
      if (offset * limit >= count) break;
    }
    expect(count).toBe(FLEET.length);
    expect(seen).toEqual(FLEET.map((s) => s.id));

    const tagged = await client.listServersDetails(new sdk.ListServersDetailsRequest().withTags('team-owner=b').withLimit(100));
    expect(tagged.servers?.map((s) => s.id)).toEqual(FLEET.filter((s) => s.tags['team-owner'] === 'b').map((s) => s.id));

    // Two tag filters: the SDK types `tags` as one string, but sends an array as `tags=…&tags=…` and
    // signs it by sorting the raw values (team-owner=b before team=a): the gateway must agree.
    const both = await client.listServersDetails(
      new sdk.ListServersDetailsRequest().withTags(['team=a', 'team-owner=b'] as unknown as string).withLimit(100),
    );
    expect(both.httpStatusCode).toBe(200);
    expect(both.servers?.map((s) => s.id)).toEqual(FLEET.filter((s) => s.tags['team'] === 'a' && s.tags['team-owner'] === 'b').map((s) => s.id));
    const apps = await client.listServersDetails(
      new sdk.ListServersDetailsRequest().withTags(['app.name=y', 'app=x'] as unknown as string).withLimit(100),
    );
    expect(apps.count).toBe(FLEET.filter((s) => s.tags['app'] === 'x').length);
  });

  it('filters by a comma-separated server_id list', async () => {
    const ids = [uuid(3), uuid(7), '99999999-0000-4000-8000-999999999999'];
    const listed = await client.listServersDetails(new sdk.ListServersDetailsRequest().withServerId(ids.join(',')));
    expect(listed.servers?.map((s) => s.id).sort()).toEqual([uuid(3), uuid(7)]);
    expect(listed.count).toBe(2);
  });

  it('shows one server, and answers 404 Ecs.0114 for an unknown one', async () => {
    const shown = await client.showServer(new sdk.ShowServerRequest().withServerId(uuid(5)));
    expect(shown.server?.id).toBe(uuid(5));
    expect(shown.server?.name).toBe('web-5');
    expect(shown.server?.metadata?.['os_type']).toBe('Windows');
    const missing = await sdkFailure(client.showServer(new sdk.ShowServerRequest().withServerId('99999999-0000-4000-8000-999999999999')));
    expect(missing.httpStatusCode).toBe(404);
  });

  it('a dry run changes nothing; a real batch reset is accepted and reaches the servers', async () => {
    const ids = [uuid(2), uuid(3)];
    const password = 'Sdk-Oracle_2024!x';
    const dry = await client.batchResetServersPassword(resetRequest(undefined, ids, true));
    expect(dry.httpStatusCode).toBe(200);
    expect(sim.wasReceived(uuid(2), password)).toBe(false);

    const real = await client.batchResetServersPassword(resetRequest(password, ids, false));
    expect(real.httpStatusCode).toBe(200);
    expect(real.response?.map((s) => s.id).sort()).toEqual(ids);
    for (const id of ids) expect(sim.wasReceived(id, password)).toBe(true);

    const weak = await sdkFailure(client.batchResetServersPassword(resetRequest('short', ids, false)));
    expect(weak).toMatchObject({ httpStatusCode: 400, errorCode: 'Ecs.0011' });
  });

  it('a partial failure: 400 with the batch code (the SDK drops internalError), or a 200 listing only the accepted servers', async () => {
    sim.updateServer(uuid(9), { plugin: false });
    const ids = [uuid(8), uuid(9)];
    sim.setPartialFailureMode('400-internal-error');
    const failed = await sdkFailure(client.batchResetServersPassword(resetRequest('Partial_Fail-2024!', ids, false)));
    expect(failed.httpStatusCode).toBe(400);
    expect(failed.errorCode).toMatch(/^Ecs\.06/);

    sim.setPartialFailureMode('200-subset');
    const partial = await client.batchResetServersPassword(resetRequest('Partial_Ok-2024!x', ids, false));
    expect(partial.httpStatusCode).toBe(200);
    expect(partial.response?.map((s) => s.id)).toEqual([uuid(8)]);
    sim.updateServer(uuid(9), { plugin: true });
  });

  it('reboots a batch and follows the job to SUCCESS', async () => {
    const ids = [uuid(10), uuid(11)];
    const reboot = await client.batchRebootServers(
      new sdk.BatchRebootServersRequest().withBody(
        new sdk.BatchRebootServersRequestBody().withReboot(new sdk.BatchRebootSeversOption().withType('SOFT').withServers(serverIds(ids))),
      ),
    );
    expect(reboot.httpStatusCode).toBe(200);
    // The SDK hands back the parsed JSON, not its model class: read Huawei's field names.
    const jobId = (reboot as unknown as { job_id?: string }).job_id;
    expect(jobId).toMatch(/.+/);
    let status: string | undefined;
    // Poll as the API is meant to be used (the reboot takes 30 ms in this simulator); bounded.
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const job = await client.showJob(new sdk.ShowJobRequest().withJobId(jobId!));
      status = job.status;
      if (status === 'SUCCESS' || status === 'FAIL') {
        expect((job.entities as unknown as { sub_jobs_total?: number }).sub_jobs_total).toBe(2);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe('SUCCESS');
  });
});
