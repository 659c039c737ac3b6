import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { failure, usageError } from './errors.ts';
import { ADMIN_CREDENTIALS_FILE } from './wire.ts';

export const DEFAULT_URL = 'http://localhost:3000';

/** Which Tollgate to talk to and as which admin client. */
export interface AdminTarget {
  /** Base URL without a trailing slash. */
  url: string;
  clientId: string;
  clientSecret: string;
  /** Where the credentials came from, for error messages (never the secret itself). */
  source: string;
}

/**
 * Resolves the URL (`--url`, else TOLLGATE_URL, else admin.json's `url`, else localhost:3000)
 * and the admin credentials (TOLLGATE_CLIENT_ID/SECRET, else DATA_DIR/admin.json, the file the
 * server writes on its first start).
 */
export function resolveTarget(urlOption: string | undefined, env: NodeJS.ProcessEnv): AdminTarget {
  const path = join(resolve(env.DATA_DIR || './data'), ADMIN_CREDENTIALS_FILE);
  const { TOLLGATE_CLIENT_ID: id, TOLLGATE_CLIENT_SECRET: secret } = env;
  if ((id || secret) && !(id && secret)) {
    throw failure('set both TOLLGATE_CLIENT_ID and TOLLGATE_CLIENT_SECRET, or neither');
  }
  // The file is read only when something is still missing, so a stale one cannot get in the way.
  const file = urlOption === undefined || !id ? readCredentialsFile(path) : undefined;
  const url = normalizeUrl(
    urlOption ?? (env.TOLLGATE_URL || file?.url || DEFAULT_URL),
    urlOption !== undefined,
  );
  if (id && secret) {
    return { url, clientId: id, clientSecret: secret, source: 'TOLLGATE_CLIENT_ID/TOLLGATE_CLIENT_SECRET' };
  }
  if (!file) {
    throw failure(
      `no admin credentials: set TOLLGATE_CLIENT_ID and TOLLGATE_CLIENT_SECRET, or point DATA_DIR at the directory holding ${ADMIN_CREDENTIALS_FILE} (looked for ${path})`,
    );
  }
  return { url, clientId: file.client_id, clientSecret: file.client_secret, source: path };
}

function readCredentialsFile(
  path: string,
): { url: string | undefined; client_id: string; client_secret: string } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw failure(`cannot read ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw failure(`${path} is not valid JSON`);
  }
  const { url, client_id, client_secret } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof client_id !== 'string' || typeof client_secret !== 'string' || !client_id || !client_secret) {
    throw failure(`${path} must hold string fields client_id and client_secret`);
  }
  return { url: typeof url === 'string' && url ? url : undefined, client_id, client_secret };
}

/** An http(s) URL without a trailing slash; a bad `--url` is a usage error, a bad file value is not. */
function normalizeUrl(value: string, fromOption: boolean): string {
  const url = URL.parse(value);
  if (!url || !['http:', 'https:'].includes(url.protocol) || url.username || url.password) {
    const message = `${fromOption ? '--url' : 'the Tollgate URL'} must be an http(s) URL without credentials, such as ${DEFAULT_URL}`;
    throw fromOption ? usageError(message) : failure(message);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}
