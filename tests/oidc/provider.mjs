// An OpenID Connect provider for the single sign-on tests: oidc-provider (a certified
// implementation) with one confidential client and users read from a JSON file.
//
//   OIDC_CLIENT_ID=hub OIDC_CLIENT_SECRET=s OIDC_REDIRECT_URI=http://127.0.0.1:8000/hub/oauth_callback \
//     node tests/oidc/provider.mjs 9000
//
// The issuer is http://127.0.0.1:<port>.  Users come from $OIDC_USERS_FILE (default
// users.json next to this file), re-read at every login and userinfo request, so a test
// changes someone's groups by rewriting the file.  Each user has a password and claims
// (name, email, groups); the user name is both the account id and preferred_username.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

import Provider from 'oidc-provider';

const port = Number(process.argv[2] || process.env.OIDC_PORT);
const { OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI } = process.env;
const usersFile = process.env.OIDC_USERS_FILE || fileURLToPath(new URL('users.json', import.meta.url));

if (!port || !OIDC_CLIENT_ID || !OIDC_CLIENT_SECRET || !OIDC_REDIRECT_URI) {
  console.error('usage: OIDC_CLIENT_ID=.. OIDC_CLIENT_SECRET=.. OIDC_REDIRECT_URI=.. node provider.mjs PORT');
  process.exit(2);
}

const users = () => JSON.parse(readFileSync(usersFile, 'utf8'));

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: OIDC_CLIENT_ID,
    client_secret: OIDC_CLIENT_SECRET,
    redirect_uris: [OIDC_REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email'],
    groups: ['groups'],
  },
  async findAccount(ctx, id) {
    const user = users()[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        // Read again here: userinfo must reflect the file as it is now.
        const current = users()[id] || {};
        return {
          sub: id, preferred_username: id, name: current.name, email: current.email, groups: current.groups || [],
        };
      },
    };
  },
  // Our own login and consent pages below, which check passwords.
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: [randomBytes(32).toString('hex')] },
});

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, status, title, body) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!DOCTYPE html><html><head><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`);
}

function loginForm(res, uid, error) {
  page(res, error ? 401 : 200, 'Sign in', `${error ? `<p class="error">${escape(error)}</p>` : ''}
    <form method="post" action="/interaction/${uid}/login">
      <input name="login" autofocus> <input name="password" type="password"> <button>Sign in</button>
    </form>`);
}

async function formBody(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const { prompt, params, session } = details;
  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') return loginForm(res, uid);
    return page(res, 200, 'Authorize', `<p>${escape(params.client_id)} asks for: ${escape(params.scope)}</p>
      <form method="post" action="/interaction/${uid}/confirm"><button>Allow</button></form>`);
  }
  if (req.method === 'POST' && action === 'login') {
    const { login, password } = await formBody(req);
    const user = users()[login];
    if (!user || user.password !== password) return loginForm(res, uid, 'Invalid user name or password.');
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'confirm') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    const grantId = await grant.save();
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  return page(res, 405, 'Not allowed', '');
}

const oidc = provider.callback();
http.createServer((req, res) => {
  const match = /^\/interaction\/([\w-]+)(?:\/(login|confirm))?$/.exec(req.url);
  if (!match) return oidc(req, res);
  return interaction(req, res, match[1], match[2]).catch((error) => {
    console.error(error);
    page(res, 400, 'Sign-in failed', `<p>${escape(error.message)}</p>`);
  });
}).listen(port, '127.0.0.1', () => console.log(`oidc provider on http://127.0.0.1:${port}`));
