import { z } from 'zod';
import { policyFileSchema, policyTestFileSchema } from './schema.ts';

/**
 * The JSON Schemas shipped in `policies/` for editors (yaml-language-server reads the
 * `# yaml-language-server: $schema=./schema.json` line). Generated from the zod schemas the
 * compiler validates with; a test fails when the committed files drift from these.
 * Draft-07 because it is what YAML editors support best; "input" so defaulted keys stay optional.
 */
export function policyJsonSchemas(): { 'schema.json': unknown; 'test-schema.json': unknown } {
  const options = { target: 'draft-7', io: 'input' } as const;
  return {
    'schema.json': z.toJSONSchema(policyFileSchema, options),
    'test-schema.json': z.toJSONSchema(policyTestFileSchema, options),
  };
}
