// Official MCP TypeScript SDK client against a running SteelEngine.
// usage: node client.mjs <mcp-url> <api-key> [tool] [json-args]
// Lists the tools, calls one (default: the first listed) and prints a JSON summary;
// exits 1 on any failure. Also checks that a wrong key gets HTTP 401.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [url, key, toolArg, argsJSON] = process.argv.slice(2);
if (!url || !key) {
  console.error('usage: node client.mjs <mcp-url> <api-key> [tool] [json-args]');
  process.exit(2);
}

async function main() {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { 'X-API-Key': key } },
  });
  const client = new Client({ name: 'steelengine-ts-client', version: '0.0.1' });
  await client.connect(transport);
  const { tools } = await client.listTools();
  const name = toolArg || tools[0]?.name;
  if (!name) throw new Error('no tools listed');
  const result = await client.callTool({ name, arguments: argsJSON ? JSON.parse(argsJSON) : {} });
  if (result.isError) throw new Error(`tool ${name} failed: ${JSON.stringify(result.content)}`);
  const summary = {
    sessionId: transport.sessionId ?? null,
    protocolVersion: transport.protocolVersion ?? null,
    tools: tools.map((t) => t.name).sort(),
    called: name,
    structuredContent: result.structuredContent ?? null,
    text: result.content?.[0]?.text ?? null,
  };
  await transport.terminateSession().catch(() => {});
  await client.close();

  // A wrong key is refused with HTTP 401 before any JSON-RPC.
  const bad = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { 'X-API-Key': 'sk-steelengine-wrong' } },
  });
  const badClient = new Client({ name: 'steelengine-ts-client', version: '0.0.1' });
  try {
    await badClient.connect(bad);
    throw new Error('wrong key was accepted');
  } catch (e) {
    if (e.code !== 401 && !String(e).includes('401')) throw e;
    summary.wrongKey = 401;
  }
  console.log(JSON.stringify(summary));
}

main().catch((e) => {
  console.error(e?.stack || String(e));
  process.exit(1);
});
