// Official MCP TypeScript SDK stdio client against `steelengine mcp` (what Claude Desktop
// and IDEs launch).
// usage: node stdio-client.mjs <tool> <json-args> <command> [args...]
// Starts the command, lists the tools, calls <tool> and prints a JSON summary; exits 1 on
// any failure.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const [tool, argsJSON, command, ...args] = process.argv.slice(2);
if (!tool || !command) {
  console.error('usage: node stdio-client.mjs <tool> <json-args> <command> [args...]');
  process.exit(2);
}

async function main() {
  const transport = new StdioClientTransport({ command, args, env: process.env, stderr: 'inherit' });
  const client = new Client({ name: 'steelengine-stdio-client', version: '0.0.1' });
  await client.connect(transport);
  const { tools } = await client.listTools();
  const result = await client.callTool({ name: tool, arguments: JSON.parse(argsJSON || '{}') });
  if (result.isError) throw new Error(`tool ${tool} failed: ${JSON.stringify(result.content)}`);
  console.log(JSON.stringify({
    tools: tools.map((t) => t.name).sort(),
    text: result.content?.[0]?.text ?? null,
    structuredContent: result.structuredContent ?? null,
  }));
  await client.close();
}

main().catch((e) => {
  console.error(e?.stack || String(e));
  process.exit(1);
});
