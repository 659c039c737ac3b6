import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  FORWARD_PREFIX,
  GATEWAY_KEY_HEADER,
  METHOD_OVERRIDE_HEADERS,
  UPSTREAM_HEADERS,
} from '../../src/gateway/index.ts';

// NGINX's example is run for real (nginx.test.ts); Traefik and Envoy are not packaged here, so
// their examples are held to the same contract the adapter tests send.
const examples = join(import.meta.dirname, '../../examples');
const read = (name: string) => readFileSync(join(examples, name), 'utf8');
const upstream = Object.values(UPSTREAM_HEADERS);

describe('examples/', () => {
  it('traefik.yaml: keys the request, forwards to the Traefik contract with the method-override headers, copies every decision header, strips the key', () => {
    const config = parse(read('traefik.yaml')).http;
    const router = config.routers.api;
    assert.deepEqual(router.middlewares, ['tollgate-key', 'tollgate', 'tollgate-key-strip']);
    const set = config.middlewares['tollgate-key'].headers.customRequestHeaders;
    assert.ok(Object.keys(set).some((name) => name.toLowerCase() === GATEWAY_KEY_HEADER));
    const auth = config.middlewares.tollgate.forwardAuth;
    assert.equal(new URL(auth.address).pathname, `${FORWARD_PREFIX}traefik`);
    assert.deepEqual(auth.authResponseHeaders, upstream);
    assert.ok(auth.authRequestHeaders.includes('Authorization'));
    assert.ok(auth.authRequestHeaders.map((h: string) => h.toLowerCase()).includes(GATEWAY_KEY_HEADER));
    // Tollgate refuses method overrides only if it sees them (issue 9).
    for (const header of METHOD_OVERRIDE_HEADERS)
      assert.ok(auth.authRequestHeaders.map((h: string) => h.toLowerCase()).includes(header), header);
    const strip = config.middlewares['tollgate-key-strip'].headers.customRequestHeaders;
    assert.deepEqual(Object.values(strip), ['']);
  });

  it('envoy.yaml: ext_authz HTTP service on the Envoy prefix, fail closed, with the key, the method-override headers and the decision headers', () => {
    const hcm = parse(read('envoy.yaml')).static_resources.listeners[0].filter_chains[0].filters[0]
      .typed_config;
    const extAuthz = hcm.http_filters.find(
      (f: { name: string }) => f.name === 'envoy.filters.http.ext_authz',
    );
    const config = extAuthz.typed_config;
    assert.equal(config.failure_mode_allow, false);
    assert.equal(config.http_service.path_prefix, `${FORWARD_PREFIX}envoy`);
    assert.deepEqual(
      config.allowed_headers.patterns.map((p: { exact: string }) => p.exact),
      [...METHOD_OVERRIDE_HEADERS],
      'the method-override headers reach Tollgate, which refuses them',
    );
    const added = config.http_service.authorization_request.headers_to_add;
    assert.ok(added.some((h: { key: string }) => h.key.toLowerCase() === GATEWAY_KEY_HEADER));
    const patterns = config.http_service.authorization_response.allowed_upstream_headers.patterns;
    assert.deepEqual(
      patterns.map((p: { exact: string }) => p.exact),
      upstream.map((h) => h.toLowerCase()),
    );
    assert.equal(hcm.path_with_escaped_slashes_action, 'REJECT_REQUEST');
  });

  it('nginx.conf: sets the key and the original request, and passes every decision header on', () => {
    const conf = read('nginx.conf');
    assert.match(conf, new RegExp(`proxy_pass http://tollgate${FORWARD_PREFIX}nginx;`));
    assert.match(conf, /proxy_set_header X-Original-URI \$request_uri;/);
    assert.match(conf, /proxy_set_header X-Original-Method \$request_method;/);
    assert.match(conf, new RegExp(`proxy_set_header ${GATEWAY_KEY_HEADER} `, 'i'));
    // The client's headers (method overrides included) reach Tollgate with the subrequest.
    assert.doesNotMatch(conf, /proxy_pass_request_headers\s+off/);
    for (const header of upstream) {
      const variable = `$upstream_http_${header.toLowerCase().replaceAll('-', '_')}`;
      assert.ok(conf.includes(variable), `auth_request_set reads ${variable}`);
      assert.match(conf, new RegExp(`proxy_set_header ${header} \\$`), `${header} is set for the API`);
    }
  });
});
