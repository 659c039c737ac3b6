import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as client from 'openid-client';
import { up as storePayloadDigests } from '../../migrations/0006_payload_digests.ts';
import { digestBearerValue } from '../../src/common/index.ts';
import { Browser, loginThroughForms } from '../helpers/browser.ts';
import { createApi, createUser, createWebClient, WEB_REDIRECT } from '../helpers/fixtures.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { requestToken } from '../helpers/tokens.ts';

const API = 'https://notes.example.test';
const REDIRECT = WEB_REDIRECT;
const USER = { username: 'erin', password: 'erin password 1' };

/**
 * A browser that also remembers every cookie value it was given and every interaction uid it
 * was sent to, and after each response copies the whole oidc_payloads table, as someone reading
 * the database (a dump, a backup, the WAL) at that moment would see it.
 */
class WatchedBrowser extends Browser {
  readonly secrets = new Set<string>();
  readonly snapshots: string[] = [];
  readonly #tg: TestInstance;
  constructor(tg: TestInstance) {
    super();
    this.#tg = tg;
  }

  override async request(url: string, init: { method?: string; form?: Record<string, string> } = {}) {
    const response = await super.request(url, init);
    for (const cookie of response.headers.getSetCookie()) {
      const value = cookie.split(';')[0]?.split('=').slice(1).join('=') ?? '';
      if (value.length >= 16) this.secrets.add(value);
    }
    const uid = /\/interaction\/([^/?]+)/.exec(response.headers.get('location') ?? '')?.[1];
    if (uid) this.secrets.add(uid);
    this.snapshots.push(await tableDump(this.#tg));
    return response;
  }
}

async function tableDump(tg: TestInstance): Promise<string> {
  return JSON.stringify(await tg.tollgate.db.db.selectFrom('oidc_payloads').selectAll().execute());
}

function assertNowhere(dumps: string[], secrets: Iterable<string>) {
  for (const secret of secrets) {
    for (const dump of dumps) assert.ok(!dump.includes(secret), `${secret.slice(0, 6)}… is stored in clear`);
  }
}

/** Issue 9 §5: codes, refresh tokens, sessions and interactions exist in clear only in their holder's hands. */
describe('bearer values stored only as digests', () => {
  let tg: TestInstance;
  let web: { client_id: string; client_secret?: string };

  before(async () => {
    tg = await startTestInstance();
    await createApi(tg, { audience: API, scopes: ['read'], alg: 'ES256' });
    await createUser(tg, USER);
    web = await createWebClient(tg, { api: API });
  });
  after(() => tg.close());

  async function authorize(browser: Browser, extra: Record<string, string>) {
    const verifier = client.randomPKCECodeVerifier();
    const url = new URL(`${tg.url}/auth`);
    for (const [k, v] of Object.entries({
      client_id: web.client_id,
      response_type: 'code',
      redirect_uri: REDIRECT,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...extra,
    }))
      url.searchParams.set(k, v);
    const { redirect } = await loginThroughForms(browser, url.toString(), tg.issuer, USER);
    const code = redirect.searchParams.get('code');
    assert.ok(code, `no code in ${redirect}`);
    return { code, verifier };
  }

  async function token(params: Record<string, string>) {
    const response = await requestToken(tg.url, web, params);
    const body = (await response.json()) as { refresh_token?: string; error?: string };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.ok(body.refresh_token);
    return body.refresh_token;
  }

  const redeem = ({ code, verifier }: { code: string; verifier: string }) =>
    token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });

  it('keeps no code, refresh token, session cookie or interaction uid in the table, while login, redemption, refresh and the session still work', async () => {
    const browser = new WatchedBrowser(tg);
    const granted = await authorize(browser, { scope: 'openid offline_access read', prompt: 'consent' });
    assert.ok(browser.secrets.size >= 3, 'the session and interaction cookies were seen');
    const snapshots = [...browser.snapshots, await tableDump(tg)];

    const refreshToken = await redeem(granted);
    snapshots.push(await tableDump(tg));
    const rotated = await token({ grant_type: 'refresh_token', refresh_token: refreshToken });
    snapshots.push(await tableDump(tg));
    // The session cookie alone signs the user in again: the session is found by its digest.
    const silent = await authorize(browser, { scope: 'openid read', prompt: 'none' });
    snapshots.push(...browser.snapshots, await tableDump(tg));

    assertNowhere(snapshots, [...browser.secrets, granted.code, refreshToken, rotated, silent.code]);
  });

  it('still finds a session and a refresh token stored before the upgrade, once the migration has converted them', async () => {
    const browser = new WatchedBrowser(tg);
    const granted = await authorize(browser, { scope: 'openid offline_access read', prompt: 'consent' });
    const refreshToken = await redeem(granted);

    // Put the table back the way the code before the migration wrote it: raw ids, the jti in the
    // payload. Rows whose raw value this test does not hold (earlier tests, the consumed code)
    // are removed, so the conversion below runs on old-style rows only, as a real upgrade does.
    const db = tg.tollgate.db.db;
    const raw = new Map([refreshToken, ...browser.secrets].map((value) => [digestBearerValue(value), value]));
    const rows = await db.selectFrom('oidc_payloads').selectAll().where('kind', '<>', 'Grant').execute();
    for (const row of rows) {
      const value = raw.get(row.id);
      const where = db.updateTable('oidc_payloads').where('kind', '=', row.kind).where('id', '=', row.id);
      if (value === undefined) {
        await db.deleteFrom('oidc_payloads').where('kind', '=', row.kind).where('id', '=', row.id).execute();
      } else {
        await where.set({ id: value, payload: JSON.stringify({ ...row.payload, jti: value }) }).execute();
      }
    }
    assert.ok((await tableDump(tg)).includes(refreshToken), 'the old-style refresh token row is in place');
    await storePayloadDigests(db as never);

    assertNowhere([await tableDump(tg)], [refreshToken, ...browser.secrets]);
    assert.ok(await token({ grant_type: 'refresh_token', refresh_token: refreshToken }));
    assert.ok(await authorize(browser, { scope: 'openid read', prompt: 'none' }));
  });
});
