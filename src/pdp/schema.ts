import { z } from 'zod';

/**
 * The shape of policy files and policy test files (the README, "Policies"). These zod schemas
 * are the single source: validation uses them, and `policies/schema.json` /
 * `policies/test-schema.json` are generated from them (json-schema.ts), so editors complete
 * exactly what the compiler accepts. Semantic checks (operators, placeholders, ids, routes)
 * run on top, in policy-file.ts.
 */

/** Resource type names: also part of rule ids and cache keys, hence no spaces or "#". */
export const RESOURCE_TYPE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

// No whitespace: names appear in cache keys joined by "\n".
const NAME = /^\S{1,128}$/;

const name = (what: string) => z.string().regex(NAME, `${what} must be 1–128 characters without whitespace`);

const attributes = z
  .record(z.string(), z.unknown())
  .meta({ description: 'Attributes as JSON (values may be strings, numbers, booleans, lists, objects).' });

const conditions = z.record(z.string(), z.unknown()).meta({
  description:
    'MongoDB-style conditions on resource attributes (dotted paths such as owner.id). Operators: ' +
    '$eq $ne $gt $gte $lt $lte $in $nin $all $exists $size, and $and $or $nor at document level. ' +
    `Values may be \${subject.id}, \${subject.attrs.<path>} or \${context.<path>} (the whole value).`,
});

export const policyRuleSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:#/-]{0,127}$/, 'a rule id is letters, digits and _ . : # / -')
    .optional()
    .meta({ description: 'Unique across the policy set; defaults to "<resource>#<index>", index from 0.' }),
  roles: z
    .array(name('a role'))
    .min(1, 'needs at least one role ("*" = any subject)')
    .meta({ description: 'The subject needs one of these roles; "*" = any subject.' }),
  actions: z
    .array(name('an action'))
    .min(1, 'needs at least one action ("*" = every action)')
    .meta({ description: 'Actions the rule covers; "*" = every action.' }),
  effect: z.enum(['allow', 'deny']).meta({ description: 'A matching deny always wins over any allow.' }),
  when: conditions.optional(),
  fields: z
    .array(z.string().min(1))
    .min(1, 'needs at least one field, or leave "fields" out')
    .optional()
    .meta({ description: 'Restricts the rule to these fields (CASL field patterns such as "address.*").' }),
  reason: z.string().min(1).max(500).optional().meta({ description: 'Returned as the decision reason.' }),
});

export const policyRouteSchema = z.strictObject({
  match: z
    .string()
    .regex(/^[A-Z]+ \/\S*$/, 'a route is "<METHOD> <path>", e.g. "GET /invoices/:id"')
    .meta({ description: '"<METHOD> <path>", path segments literal or ":param".' }),
  action: name('an action'),
  resource: z
    .strictObject({
      id: z.string().min(1).optional().meta({ description: 'Usually a path parameter, e.g. ":id".' }),
      attrs: z
        .record(z.string(), z.string())
        .optional()
        .meta({ description: 'Attribute → ":param" or literal.' }),
    })
    .default({}),
  ignoreCase: z
    .boolean()
    .optional()
    .meta({ description: 'Match literal path segments case-insensitively (default: case is significant).' }),
});

export const policyFileSchema = z
  .strictObject({
    resource: z
      .string()
      .regex(RESOURCE_TYPE, 'a resource type starts with a letter: letters, digits, _ . - (at most 64)')
      .meta({ description: 'The resource type named in /decide; one file per type.' }),
    rules: z.array(policyRuleSchema).min(1, 'a policy needs at least one rule'),
    routes: z.array(policyRouteSchema).optional().meta({ description: 'Routes for the gateway adapters.' }),
  })
  .meta({ title: 'Tollgate policy', description: 'One resource type: its rules and gateway routes.' });

export const policyTestCaseSchema = z.strictObject({
  name: z.string().min(1),
  subject: z.strictObject({
    id: z.string().min(1),
    roles: z.array(z.string()).default([]),
    attrs: attributes.optional(),
  }),
  action: z.string().min(1),
  resource: z.strictObject({
    type: z.string().min(1),
    id: z.string().optional(),
    attrs: attributes.optional(),
  }),
  context: attributes.optional(),
  field: z.string().min(1).optional(),
  expect: z.enum(['allow', 'deny']),
  reason: z
    .string()
    .min(1)
    .optional()
    .meta({ description: 'When given, the decision reason must equal it.' }),
});

export const policyTestFileSchema = z
  .strictObject({ cases: z.array(policyTestCaseSchema).min(1, 'a test file needs at least one case') })
  .meta({ title: 'Tollgate policy tests', description: 'Decisions a policy set must make.' });

export type PolicyFileInput = z.output<typeof policyFileSchema>;
export type PolicyRuleInput = z.output<typeof policyRuleSchema>;
export type PolicyTestFileInput = z.output<typeof policyTestFileSchema>;
