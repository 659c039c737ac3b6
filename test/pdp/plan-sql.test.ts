import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Kysely, sql } from 'kysely';
import {
  type CompiledPolicySet,
  compilePolicySet,
  PlanTranslationError,
  planToKysely,
  type Subject,
} from '../../src/pdp/index.ts';
import { ENGINE, openTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { shippedPolicyFiles, subject } from './policy-fixtures.ts';

/** Tables of this test only, in the test's own database. */
interface PlanDb {
  plan_invoices: {
    id: string;
    tenant: string | null;
    owner_id: string | null;
    status: string | null;
    amount: number | null;
    created_by: string | null;
  };
  plan_projects: {
    id: string;
    tenant: string | null;
    owner_id: string | null;
    members: string[] | null;
    archived: boolean | null;
    visibility: string | null;
    region: string | null;
  };
}

type Row = Record<string, unknown> & { id: string };

// Rows with NULLs in every column a rule looks at: NULL is "absent" both in SQL and in decide.
const INVOICES: Row[] = [];
const tenants = ['acme', 'globex', null];
const statuses = ['draft', 'sent', 'paid', null];
const amounts = [500, 10_000, 10_001, 50_000, null];
let n = 0;
for (const tenant of tenants)
  for (const status of statuses)
    for (const amount of amounts)
      INVOICES.push({
        id: `inv_${n++}`,
        tenant,
        owner_id: ['u1', 'u2', null][n % 3] ?? null,
        status,
        amount,
        created_by: ['a1', 'f1', 'boss', null][n % 4] ?? null,
      });

const PROJECTS: Row[] = [];
for (const tenant of tenants)
  for (const visibility of ['public', 'internal', null])
    for (const archived of [true, false, null])
      PROJECTS.push({
        id: `p_${n++}`,
        tenant,
        owner_id: ['u1', 'u2', 'c1', null][n % 4] ?? null,
        members: [['u1', 'c1'], ['u2'], [], null][n % 4] ?? null,
        archived,
        visibility,
        region: ['eu', 'us', null][n % 3] ?? null,
      });

/** The attributes decide sees for a row; `owner_id` becomes the nested `owner.id`. */
function attrsOf(row: Row): Record<string, unknown> {
  const { owner_id, created_by, ...rest } = row;
  return { ...rest, ownerId: owner_id, createdBy: created_by, owner: { id: owner_id } };
}

const INVOICE_COLUMNS = {
  id: 'id',
  tenant: 'tenant',
  ownerId: 'owner_id',
  status: 'status',
  amount: 'amount',
  createdBy: 'created_by',
} as const;
const PROJECT_COLUMNS = {
  id: 'id',
  tenant: 'tenant',
  'owner.id': 'owner_id',
  members: 'members',
  archived: 'archived',
  visibility: 'visibility',
  region: 'region',
} as const;

const SUBJECTS: Subject[] = [
  subject('u1', ['customer'], { tenant: 'acme' }),
  subject('a1', ['accountant'], { tenant: 'acme' }),
  subject('f1', ['finance-manager', 'accountant'], { tenant: 'globex' }),
  subject('boss', ['admin'], { tenant: 'acme' }),
  subject('c1', ['contractor'], { tenant: 'acme' }),
  subject('au1', ['auditor'], { tenant: 'acme' }),
  subject('u2', [], { tenant: 'acme' }),
  subject('x', ['accountant'], { tenant: ['acme', 'globex'] }),
  subject('nobody', ['admin']),
];

/** Every operator the policy format allows, over the same tables. */
const OPERATORS = {
  'ledger.yaml': `
resource: Ledger
rules:
  - roles: [r1]
    actions: [read]
    effect: allow
    when: { status: { $nin: [paid, null] }, amount: { $gte: 10000, $lt: 50000 } }
  - roles: [r1]
    actions: [read]
    effect: allow
    when: { $or: [{ tenant: null }, { ownerId: { $exists: false } }] }
  - roles: [r2]
    actions: [read, update]
    effect: allow
    when: { status: { $in: [draft, null] }, $nor: [{ createdBy: { $eq: "\${subject.id}" } }] }
  - roles: [r3]
    actions: [read]
    effect: allow
    when: { status: { $exists: true }, tenant: { $nin: ["\${subject.attrs.tenant}"] } }
  - roles: ["*"]
    actions: [read]
    effect: deny
    when: { $and: [{ amount: { $lte: 500 } }, { tenant: { $ne: "\${subject.attrs.tenant}" } }] }
  - roles: [r2]
    actions: [update]
    effect: deny
    when: { amount: { $gt: "\${context.limit}" } }
`,
  'board.yaml': `
resource: Board
rules:
  - roles: [r1]
    actions: [read]
    effect: allow
    when: { members: { $size: 2 } }
  - roles: [r2]
    actions: ["*"]
    effect: allow
    when: { archived: { $ne: true }, visibility: { $in: [public] }, members: { $all: [u2] } }
  - roles: [r3]
    actions: [read]
    effect: allow
  - roles: ["*"]
    actions: [read]
    effect: deny
    when: { members: { $size: 0 }, region: { $ne: "\${context.region}" } }
`,
};

// Enough allow rules requiring a literal id for abilities to index rules by id (discriminator.ts).
const INDEXED = {
  'catalog.yaml': [
    'resource: Catalog',
    'rules:',
    '  - { roles: ["*"], actions: ["*"], effect: deny, when: { archived: true, id: { $in: [p_61, p_62] } } }',
    ...PROJECTS.map(
      (row, i) =>
        `  - { roles: [r1], actions: [${i % 2 ? 'read' : 'update'}], effect: allow, ` +
        `when: { id: ${row.id}, tenant: "\${subject.attrs.tenant}" } }`,
    ),
    '  - { roles: [r2], actions: [read], effect: allow, when: { visibility: public } }',
  ].join('\n'),
};

const OPERATOR_SUBJECTS: Subject[] = [
  subject('a1', ['r1'], { tenant: 'acme' }),
  subject('f1', ['r2'], { tenant: 'globex' }),
  subject('u1', ['r3'], { tenant: 'acme' }),
  subject('x', ['r1', 'r2', 'r3']),
];

describe(`query plan on a real ${ENGINE} table`, () => {
  let database: TestDatabase;
  let db: Kysely<PlanDb>;
  let set: CompiledPolicySet;
  let operators: CompiledPolicySet;

  before(async () => {
    const compiled = compilePolicySet(shippedPolicyFiles(), 1);
    assert.ok(compiled.ok);
    set = compiled.set;
    const extra = compilePolicySet(
      Object.entries({ ...OPERATORS, ...INDEXED }).map(([name, content]) => ({ name, content })),
      1,
    );
    assert.ok(extra.ok, JSON.stringify(extra));
    operators = extra.set;
    database = await openTestDatabase();
    db = database.handle.db as unknown as Kysely<PlanDb>;
    await db.schema
      .createTable('plan_invoices')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant', 'text')
      .addColumn('owner_id', 'text')
      .addColumn('status', 'text')
      .addColumn('amount', 'integer')
      .addColumn('created_by', 'text')
      .execute();
    await db.schema
      .createTable('plan_projects')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant', 'text')
      .addColumn('owner_id', 'text')
      .addColumn('members', sql`text[]`)
      .addColumn('archived', 'boolean')
      .addColumn('visibility', 'text')
      .addColumn('region', 'text')
      .execute();
    await db
      .insertInto('plan_invoices')
      .values(INVOICES as never)
      .execute();
    await db
      .insertInto('plan_projects')
      .values(PROJECTS as never)
      .execute();
  });
  after(() => database?.drop());

  const scenarios = [
    { name: 'shipped', type: 'Invoice', table: 'plan_invoices', columns: INVOICE_COLUMNS, rows: INVOICES },
    { name: 'shipped', type: 'Project', table: 'plan_projects', columns: PROJECT_COLUMNS, rows: PROJECTS },
    { name: 'operator', type: 'Ledger', table: 'plan_invoices', columns: INVOICE_COLUMNS, rows: INVOICES },
    { name: 'operator', type: 'Board', table: 'plan_projects', columns: PROJECT_COLUMNS, rows: PROJECTS },
    { name: 'indexed', type: 'Catalog', table: 'plan_projects', columns: PROJECT_COLUMNS, rows: PROJECTS },
  ] as const;
  const actions = ['read', 'update', 'delete', 'approve', 'comment', 'export'];

  for (const { name, type, table, columns, rows } of scenarios) {
    it(`selects exactly the ${type} rows decide allows under the ${name} policies`, async () => {
      const set_ = name === 'shipped' ? set : operators;
      const subjects = name === 'shipped' ? SUBJECTS : OPERATOR_SUBJECTS;
      let allowed = 0;
      const minimum = name === 'indexed' ? 5 : 20;
      for (const who of subjects)
        for (const action of actions)
          for (const context of [undefined, { region: 'eu', limit: 10_000 }]) {
            const plan = set_.plan(who, action, type, context);
            const selected = await db
              .selectFrom(table)
              .select('id')
              .where(planToKysely(plan, columns))
              .orderBy('id')
              .execute();
            const expected = rows
              .filter(
                (row) =>
                  set_.decide({
                    subject: who,
                    action,
                    resource: { type, id: row.id, attrs: attrsOf(row) },
                    context,
                  }).allow,
              )
              .map((row) => row.id)
              .sort();
            const label = `${who.id} ${action} ${type} ${JSON.stringify(context)}: ${JSON.stringify(plan)}`;
            assert.deepEqual(selected.map((row) => row.id).sort(), expected, label);
            allowed += expected.length;
          }
      assert.ok(
        allowed > minimum,
        `only ${allowed} allows: the scenario must allow something, or it proves nothing`,
      );
    });
  }

  it('turns "always" into true and "never" into false', async () => {
    const all = await db
      .selectFrom('plan_invoices')
      .select('id')
      .where(planToKysely({ kind: 'always' }, {}))
      .execute();
    const none = await db
      .selectFrom('plan_invoices')
      .select('id')
      .where(planToKysely({ kind: 'never' }, {}))
      .execute();
    assert.deepEqual([all.length, none.length], [INVOICES.length, 0]);
  });

  it('binds values instead of splicing them into SQL', () => {
    const plan = { kind: 'conditional', condition: { tenant: "acme' or '1'='1" } } as const;
    const compiled = db
      .selectFrom('plan_invoices')
      .select('id')
      .where(planToKysely(plan, INVOICE_COLUMNS))
      .compile();
    assert.ok(!compiled.sql.includes('acme'), compiled.sql);
    assert.deepEqual(compiled.parameters, ["acme' or '1'='1"]);
  });

  it('refuses an attribute that has no column, before any query runs', () => {
    const plan = set.plan(SUBJECTS[0]!, 'read', 'Invoice');
    assert.throws(
      () => planToKysely(plan, { tenant: 'tenant' }),
      (error: unknown) => error instanceof PlanTranslationError && error.code === 'unknown_attribute',
    );
  });

  it('refuses an operator it cannot translate', () => {
    const plan = { kind: 'conditional', condition: { name: { $regex: 'a' } } } as const;
    assert.throws(
      () => planToKysely(plan, { name: 'name' }),
      (error: unknown) => error instanceof PlanTranslationError && error.code === 'unsupported_operator',
    );
  });
});
