import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RouteTable } from '../../src/decide/index.ts';
import { normalizePath } from '../../src/gateway/index.ts';
import type { PolicyRoute } from '../../src/pdp/index.ts';

const route = (match: string, extra: Partial<PolicyRoute> = {}): PolicyRoute => {
  const [method = '', path = ''] = match.split(' ');
  return { method, path, action: match, resource: { type: 'T', id: ':id' }, ...extra };
};

describe('RouteTable', () => {
  const table = new RouteTable([
    route('GET /invoices/:id'),
    route('GET /invoices/new', { resource: { type: 'T' } }),
    route('POST /invoices/:id/approve'),
    route('GET /tenants/:tenant/projects/:id', {
      resource: {
        type: 'Project',
        id: ':id',
        attrs: { tenant: ':tenant', 'owner.tenant': ':tenant', kind: 'project' },
      },
    }),
    route('GET /Docs/:id', { ignoreCase: true }),
    route('GET /'),
  ]);
  const match = (method: string, target: string) => {
    const normalized = normalizePath(target);
    assert.ok(normalized.ok);
    return table.match(method, normalized.segments);
  };

  it('prefers a literal segment over a parameter, and binds parameters', () => {
    assert.equal(match('GET', '/invoices/new')?.action, 'GET /invoices/new');
    const found = match('GET', '/invoices/inv_42');
    assert.equal(found?.action, 'GET /invoices/:id');
    assert.deepEqual(found?.resource, { type: 'T', id: 'inv_42' });
  });

  it('binds attributes from parameters and literals, nested paths included', () => {
    assert.deepEqual(match('GET', '/tenants/acme/projects/p1')?.resource, {
      type: 'Project',
      id: 'p1',
      attrs: { tenant: 'acme', owner: { tenant: 'acme' }, kind: 'project' },
    });
  });

  it('matches the method exactly; HEAD uses the GET route', () => {
    assert.equal(match('POST', '/invoices/1'), undefined);
    assert.equal(match('POST', '/invoices/1/approve')?.action, 'POST /invoices/:id/approve');
    assert.equal(match('HEAD', '/invoices/1')?.action, 'GET /invoices/:id');
    assert.equal(match('get', '/invoices/1'), undefined);
  });

  it('is case-sensitive unless the route says ignoreCase, and keeps the parameter’s case', () => {
    assert.equal(match('GET', '/Invoices/1'), undefined);
    assert.deepEqual(match('GET', '/DOCS/Intro')?.resource, { type: 'T', id: 'Intro' });
    assert.deepEqual(match('GET', '/docs/Intro')?.resource, { type: 'T', id: 'Intro' });
  });

  it('needs every segment: no prefix matches, no extra segments', () => {
    assert.equal(match('GET', '/invoices'), undefined);
    assert.equal(match('GET', '/invoices/1/extra'), undefined);
    assert.equal(match('GET', '/')?.action, 'GET /');
  });
});
