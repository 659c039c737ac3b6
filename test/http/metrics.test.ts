import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { attemptLogin } from '../helpers/browser.ts';
import { ENGINE } from '../helpers/database.ts';
import { createClient, createMachineClient } from '../helpers/fixtures.ts';
import { freePort, startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { policyFiles } from '../helpers/policies.ts';
import { requestToken } from '../helpers/tokens.ts';

const examples = join(import.meta.dirname, '../../examples');

async function tokenFor(tg: TestInstance, scope: string): Promise<string> {
  const { created } = await createMachineClient(tg, { name: `m-${scope}`, scope, api: 'urn:tollgate' });
  const response = await requestToken(tg.url, created, { scope });
  return ((await response.json()) as { access_token: string }).access_token;
}

/** Metric names in PromQL: every tollgate_… identifier, histogram suffixes removed. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\btollgate_[a-z0-9_]+/g)].map(([name]) =>
    name.replace(/_(bucket|sum|count)$/, ''),
  );
}

describe('/metrics', () => {
  let tg: TestInstance;
  let exposition: string;

  before(async () => {
    tg = await startTestInstance({ DECIDE_RATE_LIMIT: '3', LOGIN_MAX_FAILURES: '1' });
    await tg.admin$('POST', '/policies', { files: policyFiles() });
    // A little of everything the metrics count.
    const decide = await tokenFor(tg, 'decide');
    for (let i = 0; i < 6; i++) {
      await fetch(`${tg.url}/decide`, {
        method: 'POST',
        headers: { authorization: `Bearer ${decide}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          subject: { id: 'u1', roles: ['accountant'], attrs: { tenant: 'acme' } },
          action: 'read',
          resource: { type: 'Invoice', attrs: { tenant: i % 2 ? 'acme' : 'globex' } },
        }),
      });
    }
    await requestToken(tg.url, { client_id: 'nobody', client_secret: 'nothing' }, {});
    const web = await createClient(tg, {
      name: 'web',
      grant_types: ['authorization_code'],
      redirect_uris: ['https://app.example.test/cb'],
    });
    for (let i = 0; i < 2; i++) await attemptLogin(tg, web.client_id, 'nobody', 'wrong');
    const response = await fetch(`${tg.url}/metrics`, {
      headers: { authorization: `Bearer ${await tokenFor(tg, 'metrics')}` },
    });
    assert.equal(response.status, 200);
    exposition = await response.text();
  });
  after(() => tg.close());

  it('needs a token with scope metrics on the main port', async () => {
    const anonymous = await fetch(`${tg.url}/metrics`);
    assert.equal(anonymous.status, 401);
    const wrongScope = await fetch(`${tg.url}/metrics`, {
      headers: { authorization: `Bearer ${await tokenFor(tg, 'decide')}` },
    });
    assert.equal(wrongScope.status, 403);
  });

  it('counts requests and latency per endpoint, with a bounded endpoint label', async () => {
    assert.match(
      exposition,
      /tollgate_http_requests_total\{endpoint="\/decide",method="POST",status="200"\} [1-9]/,
    );
    assert.match(
      exposition,
      /tollgate_http_requests_total\{endpoint="\/decide",method="POST",status="429"\} [1-9]/,
    );
    assert.match(
      exposition,
      /tollgate_http_request_duration_seconds_bucket\{le="[^"]+",endpoint="\/token"\}/,
    );
    await fetch(`${tg.url}/no/such/${Math.random()}`);
    const text = await (
      await fetch(`${tg.url}/metrics`, {
        headers: { authorization: `Bearer ${await tokenFor(tg, 'metrics')}` },
      })
    ).text();
    assert.match(text, /endpoint="other",method="GET",status="404"/);
    assert.doesNotMatch(text, /no\/such/);
  });

  it('counts tokens by grant and client, refusals, decisions by caller, failed logins, lockouts and 429s', () => {
    assert.match(
      exposition,
      /tollgate_tokens_issued_total\{grant_type="client_credentials",client="cl_[^"]+"\} 1/,
    );
    assert.match(
      exposition,
      /tollgate_token_requests_refused_total\{grant_type="client_credentials",error="invalid_client"\} 1/,
    );
    assert.match(
      exposition,
      /tollgate_decisions_total\{result="allow",resource="Invoice",caller="cl_[^"]+"\} [1-9]/,
    );
    assert.match(
      exposition,
      /tollgate_decisions_total\{result="deny",resource="Invoice",caller="cl_[^"]+"\} [1-9]/,
    );
    assert.match(exposition, /tollgate_login_failures_total 1/);
    // LOGIN_MAX_FAILURES=1: the first failure starts a lockout, the second attempt meets it.
    assert.match(exposition, /tollgate_login_lockouts_total 2/);
    assert.match(exposition, /tollgate_rate_limited_total\{limit="decide"\} [1-9]/);
    assert.match(exposition, /tollgate_rate_limited_total\{limit="login"\} 2/);
  });

  it('exports the audit queue, the signing key age and (on PostgreSQL) the pool', () => {
    assert.match(exposition, /tollgate_audit_queue_depth \d+/);
    assert.match(exposition, /tollgate_audit_events_written_total [1-9]/);
    assert.match(exposition, /tollgate_signing_key_age_seconds\{alg="ES256"\} \d/);
    if (ENGINE === 'postgres') assert.match(exposition, /tollgate_db_pool_connections\{state="max"\} 10/);
  });

  it('exports every metric the shipped alerts and dashboard use', () => {
    const exported = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map(([, name]) => name as string));
    const alerts = parse(readFileSync(join(examples, 'prometheus/alerts.yaml'), 'utf8')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const rules = alerts.groups.flatMap((g) => g.rules);
    assert.ok(rules.length >= 5);
    const dashboard = JSON.parse(readFileSync(join(examples, 'grafana/tollgate.json'), 'utf8')) as {
      panels: { targets: { expr: string }[] }[];
    };
    const used = [
      ...rules.flatMap((rule) => metricNames(rule.expr).map((name) => [`alert ${rule.alert}`, name])),
      ...dashboard.panels.flatMap((p) =>
        p.targets.flatMap((t) => metricNames(t.expr).map((n) => ['dashboard', n])),
      ),
    ];
    assert.ok(used.length > 20);
    for (const [where, name] of used)
      assert.ok(exported.has(name as string), `${where} uses ${name}, which is not exported`);
    for (const alert of [
      'FailedLoginSpike',
      'DenySpike',
      'TokenEndpointErrors',
      'AuditWriteFailures',
      'SigningKeyTooOld',
    ])
      assert.ok(
        rules.some((rule) => rule.alert === `Tollgate${alert}`),
        alert,
      );
  });
});

describe('METRICS_PORT', () => {
  let tg: TestInstance;
  before(async () => {
    tg = await startTestInstance({ METRICS_PORT: String(await freePort()) });
  });
  after(() => tg.close());

  it('serves /metrics there without a token, and not on the main port', async () => {
    const url = tg.tollgate.metricsUrl;
    assert.ok(url);
    const served = await fetch(url);
    assert.equal(served.status, 200);
    assert.match(await served.text(), /tollgate_http_requests_total/);
    assert.equal((await fetch(url.replace('/metrics', '/healthz'))).status, 404);
    assert.equal((await fetch(`${tg.url}/metrics`)).status, 404);
  });
});
