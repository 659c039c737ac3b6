import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizePath } from '../../src/gateway/index.ts';

describe('normalizePath', () => {
  const path = (target: string) => {
    const result = normalizePath(target);
    return result.ok ? result.path : `refused: ${result.problem}`;
  };

  it('strips the query and fragment, merges slashes', () => {
    assert.equal(path('/a/b?c=/d'), '/a/b');
    assert.equal(path('/a/b?c=/../d'), '/a/b');
    assert.equal(path('/a#b'), '/a');
    assert.equal(path('//a///b/'), '/a/b');
    assert.equal(path('/'), '/');
    assert.equal(path('/caf%C3%A9'), '/café');
  });

  // Issue 9: dot segments used to be resolved here while NGINX forwarded them raw, so the
  // decision was about another path than the upstream served; now they are refused like ";".
  it('refuses "." and ".." segments, raw, encoded or mixed, anywhere in the path', () => {
    for (const target of [
      '/a/./b',
      '/a/../b',
      '/a/b/..',
      '/a/b/.',
      '/./a',
      '/..',
      '/a/../../b',
      '/a/%2e/b',
      '/a/%2E/b',
      '/a/%2e%2e/b',
      '/a/%2E%2E/b',
      '/a/.%2e/b',
      '/a/%2E./b',
      '/tenants/globex/invoices/1/%2e%2e/%2e%2e/%2e%2e/acme/invoices/1',
    ]) {
      assert.match(path(target), /"\." or "\.\." segment/, target);
    }
  });

  it('keeps segments that merely contain dots', () => {
    assert.equal(path('/a/.well-known/b'), '/a/.well-known/b');
    assert.equal(path('/a/.../b'), '/a/.../b');
    assert.equal(path('/files/report..pdf'), '/files/report..pdf');
  });

  it('decodes once and refuses what a second decoding would change', () => {
    assert.match(path('/a/%252e%252e/b'), /more than once/);
    assert.match(path('/a%2fb'), /encoded/);
    assert.match(path('/a%2Fb'), /encoded/);
    assert.match(path('/a%5cb'), /encoded/);
    assert.match(path('/a%00b'), /encoded/);
    assert.match(path('/a/%E0%A4%A'), /malformed/);
  });

  it('refuses control characters, backslashes, ";" parameters and relative paths', () => {
    assert.match(path('/a%0d%0aX-Injected:1'), /control/);
    assert.match(path('/a\\b'), /control character/);
    assert.match(path('/a;jsessionid=1'), /";"/);
    assert.match(path('/a/%3b/b'), /";"/);
    assert.match(path('a/b'), /must start/);
    assert.match(path(''), /must start/);
  });

  it('keeps case: whether /Admin is /admin is the route’s decision', () => {
    assert.equal(path('/Admin'), '/Admin');
  });
});
