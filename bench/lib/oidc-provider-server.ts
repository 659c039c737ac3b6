import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/**
 * A reference point between the bare node:http server and Tollgate's token endpoint:
 * oidc-provider alone, configured for what the benchmark asks of Tollgate (client credentials,
 * client_secret_basic, ES256 RFC 9068 access tokens for one resource indicator) and nothing
 * else: one static client, no storage, no guards, no audit, no outer Koa app. What
 * oidc-provider's own token pipeline costs, which Tollgate skips for the commonest
 * client-credentials request (src/oidc/client-credentials.ts). Run as a child; reports its port
 * and the client's credentials to the parent over IPC.
 */
const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const key = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-key', alg: 'ES256', use: 'sig' };
const client = { client_id: 'bench', client_secret: randomBytes(32).toString('base64url') };
const audience = 'https://bench.tollgate.test';

/** Nothing to store: static clients, and JWT access tokens are not stored (no warning, no growth). */
class NoStorage {
  async upsert(): Promise<void> {}
  async find(): Promise<undefined> {
    return undefined;
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async consume(): Promise<void> {}
  async destroy(): Promise<void> {}
  async revokeByGrantId(): Promise<void> {}
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  const provider = new Provider(`http://127.0.0.1:${port}`, {
    adapter: NoStorage,
    jwks: { keys: [key] },
    clients: [
      {
        ...client,
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        scope: 'read',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    scopes: ['read'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: async () => true,
        getResourceServerInfo: () => ({
          scope: 'read',
          audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 300,
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
  });
  server.on('request', provider.callback());
  process.send?.({ port, ...client });
});

process.once('SIGTERM', () => server.close(() => process.exit(0)));
