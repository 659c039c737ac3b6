import { UnknownResourceTypeError } from './errors.ts';
import type { CompiledPolicySet } from './policy-set.ts';
import type { Decision, PolicyTestCase, PolicyTestResult } from './types.ts';

/**
 * Runs the cases of `*.test.yaml` files against a set. A case passes when the decision's
 * `allow` matches `expect` and, if the case names a `reason`, the reason is exactly that.
 * A case about a resource type the set does not know fails (reason `unknown_resource_type`)
 * rather than throwing, so one bad case cannot hide the others.
 */
export function runPolicyTests(set: CompiledPolicySet, cases: PolicyTestCase[]): PolicyTestResult[] {
  return cases.map((testCase) => {
    const actual = decideOrExplain(set, testCase);
    const passed =
      actual.allow === (testCase.expect === 'allow') &&
      (testCase.reason === undefined || testCase.reason === actual.reason);
    return { case: testCase, passed, actual };
  });
}

function decideOrExplain(set: CompiledPolicySet, testCase: PolicyTestCase): Decision {
  try {
    return set.decide(testCase.request);
  } catch (error) {
    if (!(error instanceof UnknownResourceTypeError)) throw error;
    const resource = testCase.request.resource.type;
    return {
      allow: false,
      reason: 'unknown_resource_type',
      rule: null,
      policy: { resource, version: set.version },
    };
  }
}

/**
 * Each failing case with its file, name, and expected against actual decision and reason,
 * followed by a count; the empty string when every case passed.
 *
 * ```
 * ✗ invoice.test.yaml › customer cannot update a paid invoice
 *     expected: deny (reason "paid invoices are immutable")
 *     actual:   allow (reason "allowed", rule read-own, Invoice policy v3)
 * 1 of 24 cases failed
 * ```
 */
export function formatTestFailures(results: PolicyTestResult[]): string {
  const failed = results.filter((result) => !result.passed);
  if (failed.length === 0) return '';
  const blocks = failed.map(({ case: testCase, actual }) => {
    const expected = `${testCase.expect}${testCase.reason === undefined ? '' : ` (reason ${JSON.stringify(testCase.reason)})`}`;
    const rule = actual.rule === null ? 'no rule' : `rule ${actual.rule}`;
    const got = `${actual.allow ? 'allow' : 'deny'} (reason ${JSON.stringify(actual.reason)}, ${rule}, ${actual.policy.resource} policy v${actual.policy.version})`;
    return [
      `✗ ${testCase.file} › ${testCase.name}`,
      `    expected: ${expected}`,
      `    actual:   ${got}`,
    ].join('\n');
  });
  return `${blocks.join('\n')}\n${failed.length} of ${results.length} cases failed\n`;
}
