import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/common/index.ts';
import { loadConfig } from '../../src/config/index.ts';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('page branding (UI_*)', () => {
  it('defaults to the product name Tollgate, no logo and the blue accent', () => {
    assert.deepEqual(loadConfig({}).ui, {
      productName: 'Tollgate',
      logoUrl: undefined,
      accentColor: '#2457c5',
    });
  });

  it('takes a name, an https logo or a path on this origin, and #rgb or #rrggbb', () => {
    const ui = (env: Record<string, string>) => loadConfig(env).ui;
    assert.deepEqual(
      ui({
        UI_PRODUCT_NAME: ' Acme ID ',
        UI_LOGO_URL: 'https://cdn.example.com/a/logo.svg',
        UI_ACCENT_COLOR: '#C0392B',
      }),
      { productName: 'Acme ID', logoUrl: 'https://cdn.example.com/a/logo.svg', accentColor: '#C0392B' },
    );
    assert.equal(ui({ UI_LOGO_URL: '/brand/logo-2x.png' }).logoUrl, '/brand/logo-2x.png');
    assert.equal(ui({ UI_ACCENT_COLOR: '#fa0' }).accentColor, '#fa0');
  });

  const refused: [string, Record<string, string>, RegExp][] = [
    ['a colour name', { UI_ACCENT_COLOR: 'red' }, /^UI_ACCENT_COLOR: must be a colour as #rgb or #rrggbb$/],
    ['CSS smuggled in a colour', { UI_ACCENT_COLOR: '#fff}body{display:none' }, /^UI_ACCENT_COLOR: /],
    [
      'a plain http logo',
      { UI_LOGO_URL: 'http://cdn.example.com/logo.svg' },
      /^UI_LOGO_URL: must be an https URL/,
    ],
    ['a javascript: logo', { UI_LOGO_URL: 'javascript:alert(1)' }, /^UI_LOGO_URL: /],
    ['a data: logo', { UI_LOGO_URL: 'data:image/svg+xml,<svg/>' }, /^UI_LOGO_URL: /],
    ['a protocol-relative logo', { UI_LOGO_URL: '//evil.example.com/logo.svg' }, /^UI_LOGO_URL: /],
    // A `;` or a space would end the CSP's img-src and start a directive of the operator's choosing.
    [
      'a logo that would extend the CSP',
      { UI_LOGO_URL: 'https://cdn.example.com/x;script-src *' },
      /^UI_LOGO_URL: /,
    ],
    ['a logo with a space', { UI_LOGO_URL: 'https://cdn.example.com/a b.svg' }, /^UI_LOGO_URL: /],
    ['a logo with a query', { UI_LOGO_URL: 'https://cdn.example.com/logo.svg?v=1' }, /^UI_LOGO_URL: /],
    ['a logo with credentials', { UI_LOGO_URL: 'https://u:p@cdn.example.com/logo.svg' }, /^UI_LOGO_URL: /],
    ['a wildcard host', { UI_LOGO_URL: 'https://*.example.com/logo.svg' }, /^UI_LOGO_URL: /],
    [
      'a name with a control character',
      { UI_PRODUCT_NAME: 'Acme\u0007' },
      /^UI_PRODUCT_NAME: must be printable/,
    ],
    [
      'a name too long',
      { UI_PRODUCT_NAME: 'x'.repeat(61) },
      /^UI_PRODUCT_NAME: must be at most 60 characters$/,
    ],
  ];
  for (const [name, env, problem] of refused) {
    it(`refuses ${name}, naming the variable`, () => {
      const problems = problemsOf(env);
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0] ?? '', problem);
    });
  }
});
