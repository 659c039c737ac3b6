import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditRecord } from '../../src/audit/index.ts';
import { ENGINE } from '../helpers/database.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

// ~2.6 s: the active keys are "old" a few seconds after start-up.
const ENV = {
  KEY_ROTATION_DAYS: '0.00003',
  KEY_PUBLISH_SECONDS: '3',
  KEY_REFRESH_SECONDS: '1',
  AUDIT_FLUSH_MS: '50',
};

describe('scheduled key rotation (KEY_ROTATION_DAYS)', () => {
  const instances: TestInstance[] = [];
  before(async () => {
    const first = await startTestInstance(ENV);
    instances.push(first);
    // On PostgreSQL a second instance shares the keys: only one of the two may rotate.
    if (ENGINE === 'postgres') instances.push(await startTestInstance(ENV, { shareWith: first }));
  });
  after(async () => {
    for (const tg of instances.reverse()) await tg.close();
  });

  it('rotates once the keys are due, from one instance only, publishing the successors before they sign', async () => {
    const [a] = instances as [TestInstance];
    const kidsAt = async (tg: TestInstance) =>
      ((await (await fetch(`${tg.url}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const initial = await kidsAt(a);
    assert.equal(initial.length, 2, 'one RS256 and one ES256 key to start with');

    let rotations: AuditRecord[] = [];
    for (let i = 0; i < 80 && rotations.length === 0; i++) {
      await sleep(100);
      const { events } = (await (await a.admin$('GET', '/audit?type=key.rotated')).json()) as {
        events: AuditRecord[];
      };
      rotations = events;
    }
    assert.equal(rotations.length, 1, 'rotated exactly once, by one instance');
    const [rotation] = rotations as [AuditRecord];
    assert.equal(rotation.actor, 'KEY_ROTATION_DAYS');
    const after = rotation.data.after as { kid: string; activatesAt: string }[];
    const added = after.map((k) => k.kid);
    assert.equal(added.length, 2);

    // Published everywhere before it signs (KEY_PUBLISH_SECONDS=3; instances refresh every second).
    const activatesAt = Math.min(...after.map((k) => Date.parse(k.activatesAt)));
    for (const tg of instances) {
      let kids = await kidsAt(tg);
      for (let i = 0; i < 30 && !added.every((kid) => kids.includes(kid)); i++) {
        await sleep(100);
        kids = await kidsAt(tg);
      }
      for (const kid of [...initial, ...added]) assert.ok(kids.includes(kid), `${tg.url} publishes ${kid}`);
      assert.ok(Date.now() < activatesAt, `${tg.url} published the new keys before they sign`);
    }
    const keys = (await (await a.admin$('GET', '/keys')).json()) as {
      keys: { kid: string; state: string }[];
    };
    const states = Object.fromEntries(keys.keys.map((k) => [k.kid, k.state]));
    assert.ok(added.every((kid) => states[kid] === 'pending' || states[kid] === 'active'));
  });
});
