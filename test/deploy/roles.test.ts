import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { migrations } from '../../migrations/index.ts';
import { openDatabase } from '../../src/db/index.ts';
import { skipUnless } from '../helpers/capabilities.ts';
import { runTollgate } from '../helpers/cli.ts';
import type { TestDatabase } from '../helpers/database.ts';
import { startTestInstance, type TestInstance } from '../helpers/instance.ts';
import { asSuperuser, createDeployment, type Deployment, runInitRoles } from '../helpers/roles.ts';
import { requestToken } from '../helpers/tokens.ts';

const ALL = Object.keys(migrations);
const WARNING = /could rewrite audit history/;
// Every instance opens the signing keys the first one stored.
const KEK = { KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64') };

/** A TestDatabase on `url` whose drop only closes the pool (the deployment owns the database). */
async function connect(url: string): Promise<TestDatabase> {
  const handle = await openDatabase({ kind: 'postgres', url });
  return { handle, url, drop: () => handle.close() };
}

/** Whether `password` is the one PostgreSQL stored for the role (SCRAM-SHA-256 or md5). */
function storedPasswordMatches(stored: string, role: string, password: string): boolean {
  const scram = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):/.exec(stored);
  if (scram) {
    const salted = pbkdf2Sync(password, Buffer.from(scram[2]!, 'base64'), Number(scram[1]), 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    return createHash('sha256').update(clientKey).digest('base64') === scram[3];
  }
  return (
    stored ===
    `md5${createHash('md5')
      .update(password + role)
      .digest('hex')}`
  );
}

/** Runs `statement` as the service role and returns the SQLSTATE and message it fails with. */
async function refusal(url: string, statement: string): Promise<{ code: string; message: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(statement);
  } catch (error) {
    const { code, message } = error as { code: string; message: string };
    return { code, message };
  } finally {
    await client.end();
  }
  assert.fail(`the service role was allowed: ${statement}`);
}

describe('deployment roles on PostgreSQL', {
  skip: skipUnless('postgres'),
}, () => {
  let deployment: Deployment;
  /** The first instance, closed: later ones share its admin client and issuer. */
  let first: TestInstance | undefined;
  before(async () => {
    deployment = await createDeployment();
  });
  after(() => deployment?.drop());

  it('init-roles.sh creates a login owner, a powerless service role and the database the owner owns', async () => {
    const roles = await asSuperuser<Record<string, unknown>>(
      `select rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,
              rolpassword
       from pg_authid where rolname = any($1) order by rolname`,
      [[deployment.owner, deployment.service]],
    );
    assert.equal(roles.length, 2);
    for (const role of roles) {
      assert.deepEqual(
        [role.rolcanlogin, role.rolsuper, role.rolcreatedb, role.rolcreaterole, role.rolreplication],
        [true, false, false, false, false],
        `${role.rolname} attributes`,
      );
      assert.equal(role.rolbypassrls, false);
    }
    const stored = Object.fromEntries(roles.map((r) => [r.rolname, String(r.rolpassword)]));
    // The passwords hold quotes, a backslash and a dollar: stored exactly as given.
    assert.ok(storedPasswordMatches(stored[deployment.owner]!, deployment.owner, deployment.ownerPassword));
    assert.ok(
      storedPasswordMatches(stored[deployment.service]!, deployment.service, deployment.servicePassword),
    );
    const [db] = await asSuperuser<{ owner: string; service: boolean; public: boolean }>(
      `select pg_get_userbyid(datdba) as owner,
              has_database_privilege($2, oid, 'CONNECT') as service,
              exists (select from aclexplode(datacl) a where a.grantee = 0) as public
       from pg_database where datname = $1`,
      [deployment.database, deployment.service],
    );
    assert.deepEqual(db, { owner: deployment.owner, service: true, public: false });
  });

  it('init-roles.sh runs again without harm, and refuses to run without a password', async () => {
    const again = await runInitRoles({
      TOLLGATE_OWNER_ROLE: deployment.owner,
      TOLLGATE_SERVICE_ROLE: deployment.service,
      TOLLGATE_DB: deployment.database,
      TOLLGATE_OWNER_PASSWORD: deployment.ownerPassword,
      TOLLGATE_SERVICE_PASSWORD: deployment.servicePassword,
    });
    assert.equal(again.code, 0, again.stderr);
    const name = `tg_never_${process.pid}`;
    const missing = await runInitRoles({
      TOLLGATE_OWNER_ROLE: name,
      TOLLGATE_SERVICE_ROLE: `${name}_s`,
      TOLLGATE_DB: name,
      TOLLGATE_OWNER_PASSWORD: 'x',
    });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /TOLLGATE_SERVICE_PASSWORD not set/);
    const made = await asSuperuser('select from pg_roles where rolname = $1', [name]);
    assert.equal(made.length, 0, 'a role was created although the script refused');
  });

  it('tollgate migrate migrates as the owner, then grants the service role exactly what it needs', async () => {
    // NODE_ENV=production as in the image, and no KEY_ENCRYPTION_KEY: migrate does not need it.
    const env = {
      DATABASE_URL: deployment.serviceUrl,
      MIGRATION_DATABASE_URL: deployment.ownerUrl,
      NODE_ENV: 'production',
    };
    const first = await runTollgate(['migrate', '--json'], env);
    assert.equal(first.code, 0, first.stderr);
    const report = JSON.parse(first.stdout);
    assert.deepEqual(report.applied, ALL);
    assert.equal(report.grants.role, deployment.service);
    assert.equal(report.grants.schema, 'public');
    assert.deepEqual(report.grants.appendOnly, ['audit_events']);
    assert.deepEqual(report.grants.readOnly, ['kysely_migration', 'kysely_migration_lock']);
    assert.ok(report.grants.readWrite.includes('clients'));
    assert.ok(!report.grants.readWrite.includes('audit_events'));
    assert.deepEqual(report.grants.sequences, ['policy_versions_version_seq']);
    assert.ok(report.grants.changed.includes('audit_events'));

    const privileges = await asSuperuser<{ name: string; privileges: string[] }>(
      `select c.relname as name,
              array(select p from unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) p
                    where has_table_privilege($1, c.oid, p)) as privileges
       from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'`,
      [deployment.service],
      deployment.database,
    );
    const of = Object.fromEntries(privileges.map((r) => [r.name, r.privileges]));
    assert.deepEqual(of.audit_events, ['SELECT', 'INSERT']);
    assert.deepEqual(of.kysely_migration, ['SELECT']);
    assert.deepEqual(of.kysely_migration_lock, ['SELECT']);
    assert.deepEqual(of.clients, ['SELECT', 'INSERT', 'UPDATE', 'DELETE']);
    assert.deepEqual(of.user_changes, ['SELECT', 'INSERT', 'UPDATE', 'DELETE']);

    const second = await runTollgate(['migrate'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(
      second.stdout,
      /^PostgreSQL \(MIGRATION_DATABASE_URL\) is up to date; no migration applied\.$/m,
    );
    assert.match(second.stdout, /select, insert only: +audit_events$/m);
    assert.match(second.stdout, /^Privileges were already exactly these; nothing changed\.$/m);

    // A privilege granted by hand in between is taken back by the next migrate.
    await asSuperuser(
      `grant update, truncate on audit_events to "${deployment.service}"`,
      [],
      deployment.database,
    );
    const third = await runTollgate(['migrate', '--json'], env);
    assert.equal(third.code, 0, third.stderr);
    assert.deepEqual(JSON.parse(third.stdout).grants.changed, ['audit_events']);
    const [audit] = await asSuperuser<{ update: boolean; truncate: boolean }>(
      `select has_table_privilege($1, 'audit_events', 'UPDATE') as update,
              has_table_privilege($1, 'audit_events', 'TRUNCATE') as truncate`,
      [deployment.service],
      deployment.database,
    );
    assert.deepEqual(audit, { update: false, truncate: false });
  });

  describe('the service running as the service role', () => {
    let tg: TestInstance | undefined;
    after(() => tg?.close());

    it('issues tokens, writes the audit log and is ready, without a warning; a second start too', async () => {
      for (const start of [1, 2]) {
        tg = await startTestInstance(KEK, {
          database: await connect(deployment.serviceUrl),
          shareWith: first,
        });
        first ??= tg;
        const response = await requestToken(tg.url, tg.admin, { scope: 'admin' });
        assert.equal(response.status, 200, `start ${start}: ${await response.text()}`);
        assert.equal((await fetch(`${tg.url}/readyz`)).status, 200);
        const instance = tg;
        tg = undefined;
        // Closing writes every event recorded so far.
        await instance.close();
        assert.deepEqual(
          instance.logs.filter((line) => WARNING.test(line) || /audit log failed/.test(line)),
          [],
          `start ${start}`,
        );
        const [issued] = await asSuperuser<{ n: number }>(
          // Tokens answered together share a row (event-row.ts): count the events rows hold.
          `select coalesce(sum(case when data->>'format' = 'events/1' then json_array_length(data->'events') else 1 end), 0)::int as n
             from audit_events where type = 'token.issued'`,
          [],
          deployment.database,
        );
        assert.equal(issued?.n, start);
      }
    });

    it('cannot rewrite audit history by any statement, but changes ordinary tables', async () => {
      const url = deployment.serviceUrl;
      const refused = {
        'update audit_events set actor = null': /permission denied for table audit_events/,
        'delete from audit_events': /permission denied for table audit_events/,
        'truncate audit_events': /permission denied for table audit_events/,
        'alter table audit_events disable trigger audit_events_no_update_delete': /must be owner/,
        'drop trigger audit_events_no_update_delete on audit_events': /must be owner/,
        'set session_replication_role = replica': /permission denied to set parameter/,
      };
      for (const [statement, message] of Object.entries(refused)) {
        const { code, message: actual } = await refusal(url, statement);
        assert.equal(code, '42501', statement);
        assert.match(actual, message, statement);
      }
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query('begin');
        const deleted = await client.query('delete from clients');
        assert.ok((deleted.rowCount ?? 0) > 0, 'the admin client was deleted');
        await client.query(`update users set username = username`);
        await client.query('rollback');
      } finally {
        await client.end();
      }
    });
  });

  it('a service running as the owner warns that it could rewrite audit history', async () => {
    // MIGRATION_DATABASE_URL in the server's environment is pointed out too: it never uses it.
    const tg = await startTestInstance(
      { ...KEK, DATABASE_URL: deployment.ownerUrl, MIGRATION_DATABASE_URL: deployment.ownerUrl },
      { database: await connect(deployment.ownerUrl), shareWith: first },
    );
    try {
      const warnings = tg.logs.filter((line) => WARNING.test(line));
      assert.equal(warnings.length, 1);
      const line = JSON.parse(warnings[0]!);
      assert.equal(line.level, 40);
      assert.equal(line.role, deployment.owner);
      assert.deepEqual(
        [line.superuser, line.owner, line.privileges],
        [false, true, ['UPDATE', 'DELETE', 'TRUNCATE']],
      );
      assert.match(line.msg, /owns audit_events/);
      assert.match(line.msg, /Running in production/);
      assert.equal(
        tg.logs.filter((l) => /MIGRATION_DATABASE_URL is set, but only tollgate migrate/.test(l)).length,
        1,
      );
    } finally {
      await tg.close();
    }
  });

  it('tollgate migrate refuses a superuser service role and one acting as the owner (exit 2)', async () => {
    const superuser = (await asSuperuser<{ name: string }>('select current_user as name'))[0]!.name;
    const asSuper = new URL(deployment.ownerUrl);
    asSuper.username = encodeURIComponent(superuser);
    asSuper.password = '';
    const refusedSuper = await runTollgate(['migrate'], {
      DATABASE_URL: asSuper.toString(),
      MIGRATION_DATABASE_URL: deployment.ownerUrl,
    });
    assert.equal(refusedSuper.code, 2, refusedSuper.stderr);
    assert.match(refusedSuper.stderr, new RegExp(`service role ${superuser} .*is a superuser`));
    assert.match(refusedSuper.stderr, /NOSUPERUSER/);

    // A member of the owner's role can SET ROLE to it and drop the trigger.
    const member = `tg_member_${process.pid}`;
    await asSuperuser(`create role ${member} login in role ${deployment.owner}`);
    try {
      const asMember = new URL(deployment.ownerUrl);
      asMember.username = member;
      asMember.password = '';
      const refusedMember = await runTollgate(['migrate'], {
        DATABASE_URL: asMember.toString(),
        MIGRATION_DATABASE_URL: deployment.ownerUrl,
      });
      assert.equal(refusedMember.code, 2, refusedMember.stderr);
      assert.match(refusedMember.stderr, /owns, or is a member of the owner of, .*audit_events/);
      assert.match(refusedMember.stderr, /REASSIGN OWNED BY/);
    } finally {
      await asSuperuser(`drop role ${member}`);
    }
  });

  it('treats owning the schema (as the database owner does) like owning the table: migrate refuses, the server warns', async () => {
    const fresh = await deployment.createDatabase();
    const env = { DATABASE_URL: fresh.serviceUrl, MIGRATION_DATABASE_URL: fresh.ownerUrl };
    const granted = await runTollgate(['migrate'], env);
    assert.equal(granted.code, 0, granted.stderr);
    await asSuperuser(`alter schema public owner to "${deployment.service}"`, [], fresh.name);
    // Why it matters: the schema's owner drops the audit table, and could put a forged one in its place.
    const client = new pg.Client({ connectionString: fresh.serviceUrl });
    await client.connect();
    try {
      await client.query('begin');
      await client.query('drop table audit_events');
      await client.query('rollback');
    } finally {
      await client.end();
    }
    const refused = await runTollgate(['migrate'], env);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /owns, or is a member of the owner of, schema public:/);
    const tg = await startTestInstance(KEK, { database: await connect(fresh.serviceUrl) });
    try {
      const warnings = tg.logs.filter((line) => WARNING.test(line));
      assert.equal(warnings.length, 1);
      assert.match(JSON.parse(warnings[0]!).msg, /owns audit_events or its schema/);
    } finally {
      await tg.close();
    }
  });
});
