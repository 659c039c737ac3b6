import { createHmac } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import type { AuditSink } from '../audit/index.ts';
import { constantTimeEqual, TollgateError, verifyPassword } from '../common/index.ts';
import { apiQueries, type DatabaseHandle, userQueries } from '../db/index.ts';
import type { LoginGuard } from './login-guard.ts';
import type { Pages, ScopeView } from './views.ts';

export interface InteractionDeps {
  /** The current provider: it is rebuilt when the signing keys change, so read it per request. */
  oidc: { readonly provider: Provider };
  db: DatabaseHandle;
  csrfSecret: Buffer;
  loginGuard: LoginGuard;
  audit: AuditSink;
  pages: Pages;
}

/** The OIDC scopes a login may ask for (resource-grants.ts), as the consent page words them. */
const OIDC_SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are (your user id)',
  profile: 'See your username and roles',
  offline_access: 'Keep access while you are not using it',
};

type Form = Record<string, string | undefined>;

/**
 * The login form's fields, each a string sent at most once: a repeated field arrives as an
 * array and must not reach the handler as one (issue 9).
 */
const loginForm = z.object({
  username: z.string({ error: 'must be one string' }).max(1000).default(''),
  password: z.string({ error: 'must be one string' }).max(1024).default(''),
});

/**
 * Login and consent pages at oidc-provider's interaction URL. Each form carries a CSRF token
 * bound to the interaction (HMAC of its uid) on top of the SameSite interaction cookie.
 */
/** `formParser` parses urlencoded form bodies (size-limited) before the POST handlers. */
export function interactionRoutes(deps: InteractionDeps, formParser: Middleware): Router {
  const users = userQueries(deps.db.db);
  const apis = apiQueries(deps.db.db);
  const { pages } = deps;
  const router = new Router({ prefix: '/interaction/:uid', sensitive: true });
  router.use(showErrorsAsPage(pages));
  const csrfFor = (uid: string) =>
    createHmac('sha256', deps.csrfSecret).update(`csrf:${uid}`).digest('base64url');

  async function details(ctx: Context) {
    try {
      return await deps.oidc.provider.interactionDetails(ctx.req, ctx.res);
    } catch (error) {
      ctx.state.log.info({ err: error }, 'interaction lookup failed');
      throw new TollgateError(
        'invalid_request',
        'this sign-in request has expired or is unknown; start again from the application',
      );
    }
  }

  function checkCsrf(ctx: Context, uid: string) {
    const sent = (ctx.request.body as Form | undefined)?.csrf;
    if (typeof sent !== 'string' || !constantTimeEqual(sent, csrfFor(uid))) {
      throw new TollgateError(
        'access_denied',
        'the form is stale or was not sent by this page; reload and try again',
      );
    }
  }

  async function clientName(clientId: unknown): Promise<string> {
    const client = typeof clientId === 'string' ? await deps.oidc.provider.Client.find(clientId) : undefined;
    return client?.clientName ?? String(clientId);
  }

  /** The API's name and its scopes' descriptions as registered (`api create --scope name=text`). */
  async function describeApi(audience: string, scopes: string[]) {
    const api = await apis.findByAudience(audience);
    const described = api?.scope_descriptions ?? {};
    return {
      name: api?.name ?? audience,
      audience,
      scopes: scopes.map((name): ScopeView => ({ name, description: described[name] })),
    };
  }

  router.get('/', async (ctx) => {
    const interaction = await details(ctx);
    const base = {
      uid: interaction.uid,
      csrf: csrfFor(interaction.uid),
      clientName: await clientName(interaction.params.client_id),
    };
    if (interaction.prompt.name === 'login') {
      ctx.body = pages.login(base);
      return;
    }
    const d = interaction.prompt.details as {
      missingOIDCScope?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const accountId = interaction.session?.accountId;
    const account = accountId ? await users.find(accountId) : undefined;
    ctx.body = pages.consent({
      ...base,
      account: account?.username ?? String(accountId),
      scopes: (d.missingOIDCScope ?? []).map((name) => ({
        name,
        description: OIDC_SCOPE_DESCRIPTIONS[name],
      })),
      apis: await Promise.all(
        Object.entries(d.missingResourceScopes ?? {}).map(([audience, scopes]) =>
          describeApi(audience, scopes),
        ),
      ),
    });
  });

  router.post('/login', formParser, async (ctx) => {
    const interaction = await details(ctx);
    checkCsrf(ctx, interaction.uid);
    if (interaction.prompt.name !== 'login')
      throw new TollgateError('invalid_request', 'this request does not expect a sign-in');
    const form = loginForm.safeParse(ctx.request.body ?? {});
    if (!form.success) {
      const issue = form.error.issues[0];
      throw new TollgateError('invalid_request', `${issue?.path.join('.')}: ${issue?.message}`);
    }
    const username = form.data.username.trim();
    const password = form.data.password;
    const page = async (status: number, error: string) => {
      ctx.status = status;
      ctx.body = pages.login({
        uid: interaction.uid,
        csrf: csrfFor(interaction.uid),
        clientName: await clientName(interaction.params.client_id),
        username,
        error,
      });
    };
    const clientId = String(interaction.params.client_id ?? '');
    const attempt = { actor: username, ip: ctx.ip, clientId };
    const locked = async (retryAfterSeconds: number) => {
      ctx.set('Retry-After', String(retryAfterSeconds));
      ctx.state.log.warn({ username, ip: ctx.ip, retryAfterSeconds }, 'login locked out');
      deps.audit.record({
        type: 'login.locked',
        ...attempt,
        data: { retry_after_seconds: retryAfterSeconds },
      });
      await page(429, `Too many failed sign-ins. Try again in ${retryAfterSeconds} seconds.`);
    };
    const verdict = await deps.loginGuard.check(username, ctx.ip);
    if (!verdict.allowed) return locked(verdict.retryAfterSeconds);
    const user = username ? await users.findByUsername(username) : undefined;
    const ok = (await verifyPassword(user?.password_hash, password)) && user !== undefined && !user.disabled;
    if (!ok || !user) {
      const after = await deps.loginGuard.recordFailure(username, ctx.ip);
      ctx.state.log.info({ username, ip: ctx.ip }, 'login failed');
      deps.audit.record({
        type: 'login.failed',
        ...attempt,
        data: { reason: user?.disabled ? 'disabled' : 'bad_credentials' },
      });
      if (!after.allowed) return locked(after.retryAfterSeconds);
      return page(401, 'Invalid username or password.');
    }
    await deps.loginGuard.recordSuccess(username, ctx.ip);
    deps.audit.record({ type: 'login.succeeded', ...attempt, subject: user.id });
    await deps.oidc.provider.interactionFinished(
      ctx.req,
      ctx.res,
      { login: { accountId: user.id } },
      { mergeWithLastSubmission: false },
    );
    ctx.respond = false;
  });

  router.post('/confirm', formParser, async (ctx) => {
    const provider = deps.oidc.provider;
    const interaction = await details(ctx);
    checkCsrf(ctx, interaction.uid);
    if (interaction.prompt.name !== 'consent' || !interaction.session) {
      throw new TollgateError('invalid_request', 'this request does not expect a consent');
    }
    const d = interaction.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const grant = interaction.grantId
      ? await provider.Grant.find(interaction.grantId)
      : new provider.Grant({
          accountId: interaction.session.accountId,
          clientId: String(interaction.params.client_id),
        });
    if (!grant) throw new TollgateError('invalid_request', 'the grant for this request no longer exists');
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { consent: { grantId } },
      { mergeWithLastSubmission: true },
    );
    ctx.respond = false;
  });

  /**
   * "Not you?" on the consent page: ends the signed-in session and starts the same authorization
   * request again, so its login page comes next (prompt=login, whatever a cookie still says).
   */
  router.post('/switch', formParser, async (ctx) => {
    const provider = deps.oidc.provider;
    const interaction = await details(ctx);
    checkCsrf(ctx, interaction.uid);
    if (interaction.prompt.name !== 'consent' || !interaction.session?.uid) {
      throw new TollgateError('invalid_request', 'this request has no signed-in account to switch');
    }
    // The session of this browser's cookie, and only when it is the one this consent belongs to
    // (a lookup by uid alone could not delete it: the raw session id is not stored).
    const session = await provider.Session.get(ctx);
    if (session.uid !== interaction.session.uid) {
      throw new TollgateError(
        'invalid_request',
        'this browser is not signed in as the account to switch from',
      );
    }
    await session.destroy();
    // This consent page is spent too: Allow on it must not grant anything for the old account.
    await interaction.destroy();
    // The issuer has no trailing slash (config schema) and may carry a path.
    const again = new URL(`${provider.issuer}/auth`);
    for (const [name, value] of Object.entries(interaction.params)) {
      if (typeof value === 'string') again.searchParams.set(name, value);
    }
    again.searchParams.set('prompt', 'login');
    // See Other: the browser follows a form's POST with a GET, as after every other step.
    ctx.status = 303;
    ctx.redirect(again.toString());
  });

  router.post('/abort', formParser, async (ctx) => {
    const interaction = await details(ctx);
    checkCsrf(ctx, interaction.uid);
    const result = { error: 'access_denied', error_description: 'the user denied the request' };
    await deps.oidc.provider.interactionFinished(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: false,
    });
    ctx.respond = false;
  });

  return router;
}

/**
 * A person in a browser (one that asks for HTML) sees the error page, not JSON, when a sign-in
 * request has expired or a form is stale; other callers keep OAuth's JSON error from http/.
 */
function showErrorsAsPage(pages: Pages): Middleware {
  return async function renderInteractionErrors(ctx, next) {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof TollgateError) || !error.expose || ctx.accepts('json', 'html') !== 'html')
        throw error;
      ctx.status = error.status;
      ctx.type = 'html';
      ctx.body = pages.error({ error: error.code, description: error.message });
    }
  };
}
