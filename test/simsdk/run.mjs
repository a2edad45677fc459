// Drives the unmodified published Sim SDK (simstudio-ts-sdk 0.1.2) against a running
// SteelEngine. Env: SE_URL, SE_KEY, SE_GREET, SE_ECHO, SE_FAIL (workflow ids; SE_FAIL's
// function block throws "boom").
import assert from 'node:assert/strict';
import { SimStudioClient, SimStudioError } from 'simstudio-ts-sdk';

const { SE_URL, SE_KEY, SE_GREET, SE_ECHO, SE_FAIL } = process.env;
for (const [k, v] of Object.entries({ SE_URL, SE_KEY, SE_GREET, SE_ECHO, SE_FAIL })) {
  if (!v) throw new Error(`${k} is not set`);
}
const client = new SimStudioClient({ apiKey: SE_KEY, baseUrl: SE_URL + '/' });
const step = async (name, fn) => {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (err) {
    console.error(`FAIL ${name}:`, err);
    process.exitCode = 1;
  }
};

await step('executeWorkflow sync', async () => {
  const res = await client.executeWorkflow(SE_GREET, {});
  assert.equal(res.success, true);
  assert.equal(res.output.result, 'Hello World! 4 5');
  assert.equal(typeof res.metadata.duration, 'number');
  const echo = await client.executeWorkflowSync(SE_ECHO, { message: 'from sdk', count: 2 });
  assert.deepEqual(echo.output.result, { message: 'from sdk', count: 2 });
  const info = client.getRateLimitInfo();
  assert.ok(info && info.limit > 0 && Number.isInteger(info.reset), 'rate limit headers parsed');
});

// A failed sync run: Sim's execute route answers 500 with {success:false, error, output}
// and no code (apps/sim/app/api/workflows/[id]/execute/route.ts catch →
// executor/utils/errors.ts getExecutionErrorStatus), so the SDK throws
// SimStudioError(error, undefined, 500) exactly as it does against Sim.
await step('executeWorkflow failed run throws like Sim', async () => {
  await assert.rejects(client.executeWorkflow(SE_FAIL, {}), (err) => {
    assert.ok(err instanceof SimStudioError, 'a SimStudioError');
    assert.equal(err.status, 500);
    assert.equal(err.code, undefined);
    assert.match(err.message, /boom/);
    return true;
  });
});

await step('executeWorkflow async + getJobStatus polling', async () => {
  const queued = await client.executeWorkflow(SE_ECHO, { message: 'queued' }, { async: true });
  assert.equal(queued.success, true);
  assert.equal(queued.status, 'queued');
  assert.ok(queued.taskId && queued.links.status.endsWith('/api/jobs/' + queued.taskId));
  let job;
  for (let i = 0; i < 200; i++) {
    job = await client.getJobStatus(queued.taskId);
    if (['completed', 'failed', 'cancelled'].includes(job.status)) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(job.status, 'completed');
  // Sim's job output (apps/sim/background/workflow-execution.ts): the workflow's output
  // is under output.output, next to success, workflowId, executionId and executedAt.
  assert.equal(job.output.success, true);
  assert.equal(job.output.executionId, queued.executionId);
  assert.equal(typeof job.output.executedAt, 'string');
  assert.equal(job.output.output.result.message, 'queued');
});

await step('getWorkflowStatus / validateWorkflow', async () => {
  const st = await client.getWorkflowStatus(SE_GREET);
  assert.equal(st.isDeployed, true);
  assert.equal(st.needsRedeployment, false);
  assert.equal(await client.validateWorkflow(SE_GREET), true);
  assert.equal(await client.validateWorkflow('no-such-workflow'), false);
});

await step('getUsageLimits', async () => {
  const u = await client.getUsageLimits();
  assert.equal(u.success, true);
  assert.equal(u.rateLimit.authType, 'api');
  assert.equal(typeof u.rateLimit.sync.limit, 'number');
  assert.equal(typeof u.rateLimit.sync.remaining, 'number');
  assert.equal(typeof u.rateLimit.async.isLimited, 'boolean');
  assert.equal(typeof u.usage.currentPeriodCost, 'number');
  assert.equal(typeof u.usage.plan, 'string');
});

await step('bad key error', async () => {
  const bad = new SimStudioClient({ apiKey: 'sk-steelengine-bogus', baseUrl: SE_URL });
  await assert.rejects(bad.executeWorkflow(SE_GREET, {}), (err) => {
    assert.ok(err instanceof SimStudioError);
    assert.equal(err.status, 401);
    assert.equal(err.code, 'invalid_api_key');
    assert.ok(err.message.length > 0);
    return true;
  });
  await assert.rejects(bad.getUsageLimits(), (err) => err instanceof SimStudioError && err.status === 401);
});

// The authentication seed's own fetch example, verbatim but for the URL and key source.
await step('seed fetch example', async () => {
  const response = await fetch(
    `${SE_URL}/api/workflows/${SE_GREET}/execute`,
    {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'X-API-Key': SE_KEY,
      },
      body: JSON.stringify({ inputs: {} }),
    }
  );
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.success, true);
  assert.equal(body.output.result, 'Hello World! 4 5');
});

// The SDK's executeWorkflow leaves its 30 s timeout timer armed; exit instead of
// waiting for it.
process.exit(process.exitCode ?? 0);
