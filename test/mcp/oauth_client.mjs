// The official MCP TypeScript SDK client connecting to SteelEngine with OAuth (its
// OAuthClientProvider interface): discovery from the 401, dynamic registration,
// authorization (the "browser" step signs in with the session cookie the Go test hands
// over and posts the consent form), token, tools/list, tools/call. It prints one JSON
// line, then waits for a line on stdin (the Go test revokes the app meanwhile), tries
// tools/list again and prints a second line saying whether it was refused.
//
// usage: node oauth_client.mjs <mcp-url> <tool> <json-args>
// env: SE_COOKIE (steelengine_session=…), SE_CSRF, SE_CONSENT (JSON form fields)
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const [url, tool, argsJSON] = process.argv.slice(2);
const cookie = process.env.SE_COOKIE;
const csrf = process.env.SE_CSRF;
const consent = JSON.parse(process.env.SE_CONSENT || '{}');
const redirectUrl = 'http://127.0.0.1:1/callback';

const seen = { registered: false, authorizeUrl: null, code: null, consentAllowed: true };

class Provider {
  constructor() {
    this._client = undefined;
    this._tokens = undefined;
    this._verifier = undefined;
  }
  get redirectUrl() { return redirectUrl; }
  get clientMetadata() {
    return {
      client_name: 'SDK test client',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() { return 'sdk-state'; }
  clientInformation() { return this._client; }
  saveClientInformation(info) { this._client = info; seen.registered = true; }
  tokens() { return this._tokens; }
  saveTokens(t) { this._tokens = t; }
  saveCodeVerifier(v) { this._verifier = v; }
  codeVerifier() { return this._verifier; }
  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all') this._client = undefined;
  }
  // The user's browser: open the authorization URL signed in, post the consent form,
  // and read the code from the redirect back to the client.
  async redirectToAuthorization(authorizationUrl) {
    seen.authorizeUrl = authorizationUrl.toString();
    if (!seen.consentAllowed) throw new Error('authorization needed again (no consent given)');
    const page = await fetch(authorizationUrl, { headers: { cookie }, redirect: 'manual' });
    const html = await page.text();
    if (page.status !== 200) throw new Error(`consent page: ${page.status} ${html.slice(0, 300)}`);
    const form = new URLSearchParams();
    for (const m of html.matchAll(/<input type="hidden" name="([a-z_]+)" value="([^"]*)">/g)) {
      if (m[1] !== 'csrf') form.set(m[1], m[2].replaceAll('&amp;', '&').replaceAll('&#43;', '+'));
    }
    form.set('csrf', csrf);
    for (const [k, v] of Object.entries(consent)) {
      form.delete(k);
      for (const x of [].concat(v)) form.append(k, x);
    }
    const res = await fetch(new URL('/oauth/authorize', authorizationUrl), {
      method: 'POST', redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    const loc = res.headers.get('location') || '';
    if (res.status !== 303 || !loc.startsWith(redirectUrl)) throw new Error(`consent answer: ${res.status} ${loc}`);
    const back = new URL(loc);
    if (back.searchParams.get('state') !== 'sdk-state') throw new Error(`state lost: ${loc}`);
    if (!back.searchParams.get('code')) throw new Error(`no code: ${loc}`);
    seen.code = back.searchParams.get('code');
  }
}

async function connect(provider) {
  const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  const client = new Client({ name: 'steelengine-oauth-client', version: '0.0.1' });
  await client.connect(transport);
  return { client, transport };
}

async function main() {
  const provider = new Provider();
  // The first connect meets the 401, discovers, registers and sends the user to
  // authorize; the SDK then wants finishAuth with the code from the redirect.
  let first = new StreamableHTTPClientTransport(new URL(url), { authProvider: provider });
  try {
    await new Client({ name: 'steelengine-oauth-client', version: '0.0.1' }).connect(first);
    throw new Error('connected without authorization');
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  if (!seen.code) throw new Error('no authorization code after the redirect');
  await first.finishAuth(seen.code);
  const { client, transport } = await connect(provider);
  const { tools } = await client.listTools();
  const result = await client.callTool({ name: tool, arguments: JSON.parse(argsJSON || '{}') });
  const authorize = new URL(seen.authorizeUrl);
  console.log(JSON.stringify({
    registered: seen.registered,
    pkce: authorize.searchParams.get('code_challenge_method'),
    resource: authorize.searchParams.get('resource'),
    tokenPrefix: provider.tokens()?.access_token?.slice(0, 7) ?? null,
    tools: tools.map((t) => t.name).sort(),
    isError: !!result.isError,
    text: result.content?.[0]?.text ?? null,
  }));

  // Wait until the Go test has revoked the app, then try again without consenting.
  const rl = createInterface({ input: process.stdin });
  for await (const _ of rl) break;
  rl.close();
  seen.consentAllowed = false;
  let after = 'allowed';
  try {
    await client.listTools();
  } catch (e) {
    after = e instanceof UnauthorizedError || /401|authoriz|consent/i.test(String(e)) ? 'refused' : `error: ${e}`;
  }
  let reconnect = 'allowed';
  try {
    await connect(provider);
  } catch (e) {
    reconnect = e instanceof UnauthorizedError || /authoriz|consent/i.test(String(e)) ? 'refused' : `error: ${e}`;
  }
  console.log(JSON.stringify({ afterRevoke: after, reconnect }));
  await transport.close().catch(() => {});
}

main().catch((e) => {
  console.error(e?.stack || String(e));
  process.exit(1);
});
