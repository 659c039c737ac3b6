import { z } from 'zod';
import { isAddressRange, isStorableText, UNSTORABLE_TEXT } from '../common/index.ts';

const absoluteUrl = z.string().refine((v) => {
  const url = URL.parse(v);
  return url !== null && url.hash === '' && !v.includes('#');
}, 'must be an absolute URL without a fragment');

/** An absolute URL of one of `schemes` and nothing else (never javascript: or data:), for links on our pages. */
const webUrl = (...schemes: ('http' | 'https')[]) =>
  z
    .string()
    .max(2000)
    .refine(
      (v) => {
        const url = URL.parse(v);
        return url !== null && schemes.some((s) => url.protocol === `${s}:`) && !v.includes('#');
      },
      `must be an absolute ${schemes.join(' or ')} URL without a fragment`,
    );

const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'must be a scope token (RFC 6749 §3.3)');
const role = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.:*-]+$/, 'must be letters, digits or _ . : - *');

/** One API a client may get tokens for and the scopes of it (issue 9: grants, not a flat list). */
export const grantInput = z
  .object({
    api: z.string().min(1, 'is required').max(2000),
    scopes: z.array(scopeToken).max(200).default([]),
    // RFC 7662 §4: may introspect tokens issued for this API (a resource server).
    introspect: z.boolean().default(false),
  })
  .strict();
export type GrantInput = z.infer<typeof grantInput>;

const tlsSubject = z.string().trim().min(1, 'must not be empty').max(1000);
/** RFC 8705 §2.1.2: the certificate subject a tls_client_auth client is registered with. */
export const TLS_CLIENT_AUTH_SUBJECTS = {
  tls_client_auth_subject_dn: tlsSubject.optional(),
  tls_client_auth_san_dns: tlsSubject.optional(),
  tls_client_auth_san_uri: tlsSubject.optional(),
  tls_client_auth_san_ip: tlsSubject.optional(),
  tls_client_auth_san_email: tlsSubject.optional(),
};

export const createClientInput = z
  .object({
    name: z.string().trim().min(1, 'is required').max(200),
    grant_types: z
      .array(z.enum(['client_credentials', 'authorization_code']))
      .min(1, 'needs at least one grant'),
    redirect_uris: z.array(absoluteUrl).default([]),
    post_logout_redirect_uris: z.array(absoluteUrl).default([]),
    /** The application's home page: the error page links back to it. */
    client_uri: webUrl('http', 'https').optional(),
    /** OIDC Core §4: where a sign-in starts afresh; the error page prefers it to client_uri. */
    initiate_login_uri: webUrl('https').optional(),
    public: z.boolean().default(false),
    /**
     * RFC 8252 §7.3: a native app's loopback IP redirect comes back on whatever port it could
     * open. Unset: native for a public client whose redirect URIs are all loopback IP literals.
     */
    application_type: z.enum(['web', 'native']).optional(),
    scope: z
      .string()
      .default('')
      .transform((s) => s.split(/\s+/).filter(Boolean))
      .pipe(z.array(scopeToken)),
    /** Shorthand for one grant: `api` with the API scopes of `scope`. */
    api: z.string().min(1).max(2000).optional(),
    grants: z.array(grantInput).max(100).optional(),
    roles: z.array(role).default([]),
    allowed_ips: z
      .array(z.string().refine(isAddressRange, 'must be an address or CIDR range such as 10.0.0.0/8'))
      .max(100)
      .default([]),
    token_endpoint_auth_method: z
      .enum([
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
        'tls_client_auth',
        'self_signed_tls_client_auth',
      ])
      .optional(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }).optional(),
    // RFC 8705 §2.1.2: how a tls_client_auth client's certificate names it (exactly one).
    ...TLS_CLIENT_AUTH_SUBJECTS,
    /** RFC 8705 §3: access tokens bound to the client's certificate (cnf.x5t#S256). */
    tls_client_certificate_bound_access_tokens: z.boolean().optional(),
  })
  .strict()
  .superRefine((input, ctx) => {
    if (input.grants !== undefined && input.api !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['api'],
        message: 'cannot be combined with grants; put that API in grants',
      });
    }
    if (input.grant_types.includes('authorization_code') && input.redirect_uris.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['redirect_uris'],
        message: 'is required for authorization_code',
      });
    }
    if (input.public && input.grant_types.includes('client_credentials')) {
      ctx.addIssue({
        code: 'custom',
        path: ['public'],
        message: 'a public client cannot use client_credentials',
      });
    }
    if (input.public && input.token_endpoint_auth_method) {
      ctx.addIssue({
        code: 'custom',
        path: ['token_endpoint_auth_method'],
        message: 'a public client does not authenticate',
      });
    }
    const method = input.token_endpoint_auth_method;
    const keyed = method === 'private_key_jwt' || method === 'self_signed_tls_client_auth';
    if (keyed !== (input.jwks !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwks'],
        message: 'is required with private_key_jwt or self_signed_tls_client_auth, and only with them',
      });
    }
    if (method === 'self_signed_tls_client_auth' && input.jwks?.keys.some((key) => !Array.isArray(key.x5c))) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwks'],
        message: 'every key needs x5c, the self-signed certificate the client presents (RFC 8705 §2.2)',
      });
    }
    const subjects = Object.keys(TLS_CLIENT_AUTH_SUBJECTS).filter(
      (name) => input[name as keyof typeof TLS_CLIENT_AUTH_SUBJECTS] !== undefined,
    );
    if (method === 'tls_client_auth' ? subjects.length !== 1 : subjects.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: [subjects[1] ?? subjects[0] ?? 'tls_client_auth_subject_dn'],
        message:
          method === 'tls_client_auth'
            ? 'tls_client_auth needs exactly one of tls_client_auth_subject_dn, _san_dns, _san_uri, _san_ip, _san_email'
            : 'is only for tls_client_auth',
      });
    }
  });
export type CreateClientInput = z.infer<typeof createClientInput>;

export const createUserInput = z
  .object({
    username: z.string().trim().min(1, 'is required').max(200),
    password: z.string().min(8, 'must be at least 8 characters').max(1024),
    roles: z.array(role).default([]),
    attrs: z.record(z.string().min(1).max(100), z.string().max(1000)).default({}),
  })
  .strict();
export type CreateUserInput = z.infer<typeof createUserInput>;

/**
 * What a scope lets a client do, in words, for the consent page: one line of printable text
 * (no control, format or line-separator characters, which could disguise what is asked).
 */
const scopeDescription = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u, 'must be one line of printable text');

export const createApiInput = z
  .object({
    audience: absoluteUrl,
    name: z.string().trim().min(1).max(200).optional(),
    scopes: z.array(scopeToken).min(1, 'needs at least one scope'),
    /** Scope name -> description; each name must be one of `scopes`. */
    scope_descriptions: z.record(z.string(), scopeDescription).default({}),
    alg: z.enum(['RS256', 'ES256']).default('RS256'),
    /**
     * `dpop`: its tokens are issued and accepted DPoP-bound only (RFC 9449); `mtls`: bound to
     * the client's certificate only (RFC 8705).
     */
    require_binding: z
      .enum(['none', 'dpop', 'mtls'], { error: 'must be dpop, mtls or none' })
      .default('none'),
    ttl: z
      .number()
      .int('must be whole seconds')
      .min(1)
      .max(3600, 'must be at most 3600 seconds')
      .default(300),
  })
  .strict()
  .superRefine((input, ctx) => {
    for (const scope of Object.keys(input.scope_descriptions)) {
      if (!input.scopes.includes(scope)) {
        ctx.addIssue({
          code: 'custom',
          path: ['scope_descriptions', scope],
          message: 'describes a scope that is not in scopes',
        });
      }
    }
  });
export type CreateApiInput = z.infer<typeof createApiInput>;

/**
 * A stored thing's id or name as it appears in an admin path or query (issue 9): what could
 * ever have been stored. Anything else names nothing and never reaches a query.
 */
export const storedIdentifier = z.string().min(1).max(200).refine(isStorableText, UNSTORABLE_TEXT);
