import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { Browser, loginThroughForms } from '../helpers/browser.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { createApi, createUser, createWebClient, WEB_REDIRECT } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

const API = 'https://ledger.example.test';
const REDIRECT = WEB_REDIRECT;
const USER = { username: 'dana', password: 'dana password 1' };
const PARALLEL = 8;
// PGlite runs one statement at a time in one process: real concurrency needs PostgreSQL.
const ONLY_POSTGRES = skipUnless('postgres');

interface TokenAnswer {
  status: number;
  body: { error?: string; refresh_token?: string; access_token?: string };
}

/**
 * Issue 9 §4: a code or refresh token works once, however many requests race for it. An attacker
 * who stole one and sends it at the same moment as the client must not end up with a branch of
 * the grant of their own.
 */
describe('one-time codes and refresh tokens under concurrency', () => {
  let tg: TestInstance;
  let web: { client_id: string; client_secret?: string };

  before(async () => {
    tg = await startTestInstance();
    await createApi(tg, { audience: API, scopes: ['read'], alg: 'ES256' });
    await createUser(tg, USER);
    web = await createWebClient(tg, { api: API });
  });
  after(() => tg.close());

  /** A fresh authorization code from a real browser login, with its PKCE verifier. */
  async function freshCode(): Promise<{ code: string; verifier: string }> {
    const verifier = client.randomPKCECodeVerifier();
    const url = new URL(`${tg.url}/auth`);
    for (const [k, v] of Object.entries({
      client_id: web.client_id,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'openid offline_access read',
      prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }))
      url.searchParams.set(k, v);
    const { redirect } = await loginThroughForms(new Browser(), url.toString(), tg.issuer, USER);
    const code = redirect.searchParams.get('code');
    assert.ok(code, `no code in ${redirect}`);
    return { code, verifier };
  }

  async function send(params: Record<string, string>): Promise<TokenAnswer> {
    const response = await requestToken(tg.url, web, params);
    return { status: response.status, body: (await response.json()) as TokenAnswer['body'] };
  }

  /**
   * Sends `PARALLEL` copies of one request at the same instant: sockets are opened beforehand
   * (keep-alive), so no request waits for a TCP handshake the others have already done.
   */
  async function race(request: () => Promise<TokenAnswer>): Promise<TokenAnswer[]> {
    await Promise.all(
      Array.from({ length: PARALLEL }, async () =>
        (await fetch(`${tg.url}/.well-known/openid-configuration`)).text(),
      ),
    );
    return Promise.all(Array.from({ length: PARALLEL }, request));
  }

  const redeem = ({ code, verifier }: { code: string; verifier: string }) =>
    send({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
  const refresh = (token: string) => send({ grant_type: 'refresh_token', refresh_token: token });

  function assertRefused(answer: TokenAnswer, what: string) {
    assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.error, 'invalid_grant', what);
  }

  it(`answers ${PARALLEL} parallel redemptions of one code with exactly one 200 and invalid_grant for the rest, then refuses the winner's refresh token`, {
    skip: ONLY_POSTGRES,
  }, async () => {
    const code = await freshCode();
    const answers = await race(() => redeem(code));

    const winners = answers.filter((a) => a.status === 200);
    assert.equal(winners.length, 1, `statuses: ${answers.map((a) => a.status).join(' ')}`);
    for (const loser of answers.filter((a) => a.status !== 200)) assertRefused(loser, 'a racing redemption');

    // The losers count as reuse: the grant is revoked, the winner's branch included.
    const winnerRefresh = winners[0]?.body.refresh_token;
    assert.ok(winnerRefresh, 'the winner got a refresh token');
    assertRefused(await refresh(winnerRefresh), "the winner's refresh token after the race");
  });

  it(`answers ${PARALLEL} parallel refreshes of one refresh token with at most one 200, after which no refresh token of that grant works`, {
    skip: ONLY_POSTGRES,
  }, async () => {
    const first = await redeem(await freshCode());
    assert.equal(first.status, 200);
    const stolen = first.body.refresh_token;
    assert.ok(stolen);

    const answers = await race(() => refresh(stolen));
    const winners = answers.filter((a) => a.status === 200);
    assert.ok(winners.length <= 1, `statuses: ${answers.map((a) => a.status).join(' ')}`);
    for (const loser of answers.filter((a) => a.status !== 200)) assertRefused(loser, 'a racing refresh');

    // Neither the client nor the attacker keeps a working branch of the grant.
    const issued = [stolen, ...winners.map((w) => w.body.refresh_token ?? '')];
    for (const token of issued) assertRefused(await refresh(token), 'a refresh token of the raced grant');
  });

  it('refuses a code redeemed a second time and then the refresh token of its first redemption', async () => {
    const code = await freshCode();
    const first = await redeem(code);
    assert.equal(first.status, 200);
    assertRefused(await redeem(code), 'the second redemption');
    assertRefused(await refresh(first.body.refresh_token ?? ''), 'the refresh token of the first redemption');
  });

  it('refuses a rotated refresh token used again and then the refresh token that replaced it', async () => {
    const first = await redeem(await freshCode());
    const rotated = await refresh(first.body.refresh_token ?? '');
    assert.equal(rotated.status, 200);
    assertRefused(await refresh(first.body.refresh_token ?? ''), 'the rotated refresh token');
    assertRefused(await refresh(rotated.body.refresh_token ?? ''), 'the refresh token that replaced it');
  });
});
