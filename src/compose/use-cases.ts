import type { ClientMetadata } from 'oidc-provider';
import {
  type ApiUseCases,
  apiUseCases,
  type ClientUseCases,
  clientUseCases,
  type UserUseCases,
  userUseCases,
} from '../admin/index.ts';
import type { DatabaseHandle } from '../db/index.ts';
import type { ClientGrants, OidcService, UserDirectory } from '../oidc/index.ts';

export interface UseCases {
  clients: ClientUseCases;
  users: UserUseCases;
  apis: ApiUseCases;
}

/**
 * The admin use cases, built once, each with the caches it must invalidate: a change is in
 * force on this instance before it is reported done (issue 9); other instances learn of it by
 * NOTIFY, or within the directory TTL.
 */
export function createUseCases(parts: {
  db: DatabaseHandle;
  oidc: Pick<OidcService, 'provider' | 'clients' | 'apis' | 'decisionApis'>;
  grants: Pick<ClientGrants, 'refresh'>;
  userDirectory: Pick<UserDirectory, 'invalidate'>;
}): UseCases {
  const { db, oidc, grants, userDirectory } = parts;
  return {
    clients: clientUseCases(
      db,
      // The cast is what validate is for: it takes metadata of any shape and refuses what
      // oidc-provider would not accept; its declared parameter assumes the check already passed.
      (metadata) => oidc.provider.Client.validate(metadata as ClientMetadata),
      async (clientId) => {
        oidc.clients.invalidate(clientId);
        await grants.refresh();
      },
    ),
    users: userUseCases(db, (id) => userDirectory.invalidate(id)),
    apis: apiUseCases(db, (audience) => {
      oidc.apis.invalidate(audience);
      oidc.decisionApis.invalidate(audience);
    }),
  };
}
