import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditRecord } from '../../src/audit/index.ts';
import { ENGINE } from '../helpers/database.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';

// ~2.6 s: the active keys are "old" a few seconds after start-up. Successors are pending for 6 s,
// a margin a loaded machine cannot use up, so "published before it signs" is the service's doing.
const MAX_AGE_MS = 0.00003 * 86_400_000;
const ENV = {
  KEY_ROTATION_DAYS: '0.00003',
  KEY_PUBLISH_SECONDS: '6',
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
    const afterOf = (event: AuditRecord) => (event.data.after as { kid: string }[]).map((k) => k.kid);

    /** The scheduled rotations so far, oldest first, once there are at least `count` (deadline 30 s). */
    const rotationsAtLeast = async (count: number): Promise<AuditRecord[]> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const { events } = (await (await a.admin$('GET', '/audit?type=key.rotated')).json()) as {
          events: AuditRecord[];
        };
        if (events.length >= count || Date.now() > deadline) return events.sort((x, y) => x.seq - y.seq);
        await sleep(100);
      }
    };
    const rotations = await rotationsAtLeast(1);
    assert.equal(rotations.length, 1, 'rotated exactly once, by one instance');
    const [rotation] = rotations as [AuditRecord];
    // The keys of the first start: on a loaded machine the instances may take longer to start
    // than the keys take to come due, so the rotation can precede this test's first look.
    const initial = (await kidsAt(a)).filter((kid) => !afterOf(rotation).includes(kid));
    assert.equal(initial.length, 2, 'one RS256 and one ES256 key before the first rotation');
    assert.equal(rotation.actor, 'KEY_ROTATION_DAYS');
    const after = rotation.data.after as { kid: string; activatesAt: string }[];
    const added = after.map((k) => k.kid);
    assert.equal(added.length, 2);

    // Published everywhere before it signs (instances refresh every second).
    const activatesAt = Math.min(...after.map((k) => Date.parse(k.activatesAt)));
    for (const tg of instances) {
      let kids = await kidsAt(tg);
      while (!added.every((kid) => kids.includes(kid)) && Date.now() < activatesAt + 10_000) {
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

    // The successors come due in turn: the next rotation is again one, by one instance, and not
    // before the first one's keys have signed for the whole period (a second instance rotating
    // the same keys would show up here as a rotation seconds too early).
    const both = await rotationsAtLeast(2);
    assert.equal(both.length, 2, 'a second scheduled rotation, once');
    const [first, second] = both as [AuditRecord, AuditRecord];
    assert.equal(first.seq, rotation.seq);
    assert.equal(second.actor, 'KEY_ROTATION_DAYS');
    const secondKeys = (second.data.after as { kid: string; activatesAt: string }[]).map((k) => k.kid);
    assert.equal(secondKeys.length, 2);
    assert.ok(!secondKeys.some((kid) => [...initial, ...added].includes(kid)), 'new keys again');
    assert.ok(
      Date.parse(second.occurred_at) >= activatesAt + MAX_AGE_MS,
      `second rotation at ${second.occurred_at}, due only from ${new Date(activatesAt + MAX_AGE_MS).toISOString()}`,
    );
  });
});
