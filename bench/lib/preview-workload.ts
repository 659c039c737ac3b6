import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { compilePolicySet, type DecisionRequest, type PolicyFile } from '../../src/pdp/index.ts';
import { seededRandom } from './random.ts';

/**
 * The workload both preview benchmarks replay: requests shaped like the decision log of the
 * demo policies (./policies: Invoice and Project; seven kinds of subject, every action, with and
 * without a field or a region), the shipped set, and a candidate that narrows one rule
 * (accountants lose `update`). BENCH_SUBJECTS users (2,000) make the requests.
 */
export function previewWorkload() {
  const dir = resolve(import.meta.dirname, '../../policies');
  const shipped: PolicyFile[] = readdirSync(dir)
    .filter((name) => name.endsWith('.yaml') && !name.endsWith('.test.yaml'))
    .map((name) => ({ name, content: readFileSync(join(dir, name), 'utf8') }));
  const narrowed = shipped.map((file) =>
    file.name === 'invoice.yaml'
      ? {
          ...file,
          content: file.content.replace('actions: [read, create, update]', 'actions: [read, create]'),
        }
      : file,
  );
  if (narrowed.every((file, i) => file.content === shipped[i]?.content))
    throw new Error(
      'the candidate did not change: policies/invoice.yaml no longer has the rule narrowed here',
    );
  const compile = (files: PolicyFile[], version: number) => {
    const result = compilePolicySet(files, version);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    return result.set;
  };
  const current = compile(shipped, 1);
  const candidate = compile(narrowed, 2);

  const { random, pick } = seededRandom();

  const TENANTS = ['acme', 'globex', 'initech'];
  const ROLES = [
    ['customer'],
    ['accountant'],
    ['finance-manager'],
    ['admin'],
    ['auditor'],
    ['contractor'],
    [],
  ];
  const ACTIONS = ['read', 'create', 'update', 'delete', 'approve', 'comment'];
  // A population of users, each with their own roles and tenant, as a decision log records them.
  const SUBJECTS = Array.from({ length: Number(process.env.BENCH_SUBJECTS ?? 2_000) }, (_, i) => ({
    id: `u${i}`,
    roles: pick(ROLES),
    attrs: { tenant: pick(TENANTS) },
  }));
  function request(): DecisionRequest {
    const tenant = pick(TENANTS);
    const subject = pick(SUBJECTS);
    const invoice = random() < 0.6;
    const resource = invoice
      ? {
          type: 'Invoice',
          id: `inv_${Math.floor(random() * 10_000)}`,
          attrs: {
            tenant,
            ownerId: subject.id,
            status: pick(['draft', 'sent', 'paid']),
            amount: Math.floor(random() * 20_000),
            createdBy: pick(SUBJECTS).id,
          },
        }
      : {
          type: 'Project',
          id: `p_${Math.floor(random() * 1_000)}`,
          attrs: {
            tenant,
            members: [subject.id],
            archived: random() < 0.2,
            visibility: pick(['public', 'private']),
          },
        };
    return {
      subject,
      action: pick(ACTIONS),
      resource,
      ...(invoice && random() < 0.2 ? { field: pick(['amount', 'internalNotes']) } : {}),
      ...(random() < 0.5 ? { context: { region: pick(['eu', 'us']) } } : {}),
    };
  }
  return { shipped, narrowed, current, candidate, request };
}
