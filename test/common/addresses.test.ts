import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressInRanges, addressLimitKey, canonicalAddress } from '../../src/common/index.ts';

describe('client addresses', () => {
  it('spell an IPv4 client the same whether the socket is IPv4 or dual-stack', () => {
    assert.equal(canonicalAddress('::ffff:10.0.0.7'), '10.0.0.7');
    assert.equal(canonicalAddress('10.0.0.7'), '10.0.0.7');
    assert.equal(canonicalAddress('2001:db8::1'), '2001:db8::1');
    assert.equal(canonicalAddress('not an address'), 'not an address');
  });

  it('match ranges across both spellings', () => {
    assert.equal(addressInRanges('::ffff:10.1.2.3', ['10.0.0.0/8']), true);
    assert.equal(addressInRanges('10.1.2.3', ['10.0.0.0/8']), true);
    assert.equal(addressInRanges('11.1.2.3', ['10.0.0.0/8']), false);
  });

  it('count IPv4 addresses one by one and IPv6 addresses by their /64', () => {
    assert.equal(addressLimitKey('192.0.2.7'), '192.0.2.7');
    assert.equal(addressLimitKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(addressLimitKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(addressLimitKey('2001:db8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.notEqual(addressLimitKey('2001:db8:1:3::1'), addressLimitKey('2001:db8:1:2::1'));
    assert.equal(addressLimitKey('not an address'), 'not an address');
  });

  it('answer a flood of fresh addresses right, and the first ones still right after it', () => {
    for (let i = 0; i < 10_000; i++) {
      const net = `2001:db8:${((i >> 8) + 1).toString(16)}:${((i & 255) + 1).toString(16)}`;
      assert.equal(addressLimitKey(`${net}:aaaa::1`), `${net}::/64`);
      assert.equal(canonicalAddress(`::ffff:10.0.${i >> 8}.${i & 255}`), `10.0.${i >> 8}.${i & 255}`);
    }
    assert.equal(canonicalAddress('::ffff:10.0.0.7'), '10.0.0.7');
    assert.equal(addressLimitKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  });

  it('answer text too long to be an address as they answer any unparsable text', () => {
    const junk = `10.0.0.1${'x'.repeat(100)}`;
    assert.equal(canonicalAddress(junk), junk);
    assert.equal(addressLimitKey(junk), junk);
  });
});
