/**
 * Names the CLI shares with the server, kept here rather than imported from the server's
 * modules: importing those would load the database driver, the OpenID provider and their schemas
 * on every `tollgate` call (test/cli/wire.test.ts checks that both sides still agree).
 */

/** The audience of Tollgate's own API, whose `admin` scope the admin API requires. */
export const TOLLGATE_AUDIENCE = 'urn:tollgate';

/** The file in DATA_DIR where the server writes the admin client's credentials on first start. */
export const ADMIN_CREDENTIALS_FILE = 'admin.json';

/** The log field that carries a signed audit checkpoint. */
export const CHECKPOINT_FIELD = 'audit_checkpoint';
