// An upstream OpenID provider for Writ's single sign-on e2e tests: the certified `oidc-provider`
// on a loopback port, with one confidential client (Writ) and a fixed set of people.
//
// Deterministic, without a login form: the interaction route signs in the person whose
// `preferred_username` is the authorization request's `login_hint` (else IDP_DEFAULT_SUB), and
// consent is implied (Writ is a first-party client here), as an organisation's provider is set up.
//
// Protocol with the test: it listens on a free port first and prints one JSON line
// `{"issuer": "http://127.0.0.1:<port>"}` (Writ needs the issuer to start); it then reads one line
// on stdin, Writ's redirect URI (known once Writ listens), and only then builds the provider.
// Until then every request is answered 503. It stops when stdin closes or on SIGTERM.
//
// Environment: IDP_CLIENT_ID, IDP_CLIENT_SECRET, IDP_ACCOUNTS (JSON: sub -> claims, e.g.
// {"u1": {"preferred_username": "ada@example.org", "name": "Ada", "email": "ada@example.org",
// "email_verified": true}}), IDP_DEFAULT_SUB.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

import Provider from 'oidc-provider';

const clientId = process.env.IDP_CLIENT_ID ?? 'writ';
const clientSecret = process.env.IDP_CLIENT_SECRET ?? 'writ-upstream-secret';
const accounts = JSON.parse(process.env.IDP_ACCOUNTS ?? '{}');
const defaultSub = process.env.IDP_DEFAULT_SUB ?? Object.keys(accounts)[0];

let provider;
let handler;

const server = createServer((req, res) => {
  if (!handler) {
    res.statusCode = 503;
    res.end('not ready');
    return;
  }
  handler(req, res);
});

async function interaction(req, res) {
  try {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name !== 'login') {
      throw new Error(`unexpected prompt ${details.prompt.name}`);
    }
    const hint = details.params.login_hint;
    const sub = Object.keys(accounts).find((s) => accounts[s].preferred_username === hint)
      ?? defaultSub;
    await provider.interactionFinished(req, res, { login: { accountId: sub } }, {
      mergeWithLastSubmission: false,
    });
  } catch (err) {
    res.statusCode = 500;
    res.end(String(err));
  }
}

function build(redirectUri, issuer) {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'idp-key-1', use: 'sig', alg: 'RS256' };
  provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username', 'given_name', 'family_name'],
      email: ['email', 'email_verified'],
    },
    // The scopes' claims in the id token itself, as most providers send them.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, i) => `/interaction/${i.uid}` },
    pkce: { required: () => true },
    async findAccount(ctx, sub) {
      if (!accounts[sub]) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...accounts[sub] }) };
    },
    // Consent is implied for Writ: every scope asked is granted.
    async loadExistingGrant(ctx) {
      const id = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (id) return ctx.oidc.provider.Grant.find(id);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope(ctx.oidc.params.scope);
      grant.addOIDCClaims(['name', 'preferred_username', 'email', 'email_verified']);
      await grant.save();
      return grant;
    },
  });
  const callback = provider.callback();
  handler = (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      interaction(req, res);
    } else {
      callback(req, res);
    }
  };
}

server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.once('line', (redirectUri) => {
    build(redirectUri.trim(), issuer);
    process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  });
  lines.on('close', () => server.close(() => process.exit(0)));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
