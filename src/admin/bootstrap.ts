import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createPrivateFile, PRIVATE_DIR_MODE } from '../common/index.ts';
import { clientQueries, type DatabaseHandle, takeAdvisoryLock } from '../db/index.ts';
import { apiUseCases, BUILTIN_API } from './apis.ts';
import type { ClientUseCases } from './clients.ts';

export const ADMIN_CREDENTIALS_FILE = 'admin.json';

export interface AdminCredentials {
  url: string;
  client_id: string;
  client_secret: string;
}

/**
 * Prepares an empty database: Tollgate's own API always, and on the very first start an admin
 * client whose credentials are written to DATA_DIR/admin.json (mode 0600). Returns that path
 * when it wrote one. The file is created exclusively and never through a symbolic link (issue 9):
 * when anything is already at that path, start-up fails and the admin client is not created.
 * The client is created inside bootstrap's transaction, so nothing is told of it: the caller
 * starts reading client grants after this returns.
 */
export async function bootstrap(
  db: DatabaseHandle,
  clients: Pick<ClientUseCases, 'create'>,
  options: { dataDir: string; url: string },
): Promise<string | undefined> {
  return db.db.transaction().execute(async (trx) => {
    // Instances (or workers) starting together on one empty database must create Tollgate's API
    // and a single admin client once: concurrent upserts of one row can still collide.
    await takeAdvisoryLock(trx, 'bootstrap');
    await apiUseCases(db).ensureBuiltin(trx);
    if ((await clientQueries(trx).count()) > 0) return undefined;
    const created = await clients.create(
      {
        name: 'tollgate-admin',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        post_logout_redirect_uris: [],
        public: false,
        scope: [...BUILTIN_API.scopes],
        api: BUILTIN_API.audience,
        roles: ['tollgate-admin'],
        allowed_ips: [],
      },
      trx,
    );
    const credentials: AdminCredentials = {
      url: options.url,
      client_id: created.client_id,
      client_secret: created.client_secret ?? '',
    };
    await mkdir(options.dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const path = join(options.dataDir, ADMIN_CREDENTIALS_FILE);
    createPrivateFile(path, `${JSON.stringify(credentials, null, 2)}\n`);
    return path;
  });
}
