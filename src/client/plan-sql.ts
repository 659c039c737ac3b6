import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import { PlanTranslationError } from './errors.ts';
import type { PlanCondition, QueryPlan } from './types.ts';

/** Attribute name used in policies (`tenant`, `owner.id`) → its column (`owner_id`, `i.owner_id`). */
export type PlanColumns = Readonly<Record<string, string>>;

/** A `where` callback that fits any query: Kysely checks the column names when it runs. */
export type PlanFilter = <DB, TB extends keyof DB>(eb: ExpressionBuilder<DB, TB>) => Expression<SqlBool>;

type Column = string;
type SqlNode =
  | { op: 'literal'; value: boolean }
  | { op: 'and' | 'or'; children: SqlNode[] }
  | { op: 'not'; child: SqlNode }
  | { op: 'compare'; column: Column; operator: '>' | '>=' | '<' | '<='; value: unknown }
  | { op: 'equal'; column: Column; value: unknown }
  | { op: 'null' | 'not null'; column: Column }
  | { op: 'in'; column: Column; values: unknown[]; orNull: boolean }
  | { op: 'contains'; column: Column; values: unknown[] }
  | { op: 'size'; column: Column; value: number };

const COMPARE = { $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' } as const;

/**
 * Turns a query plan (`POST /decide/plan`, `Decider.plan`) into a Kysely `where` callback, so a
 * service filters a list in SQL with exactly the rows `decide` would allow:
 * `db.selectFrom('invoices').selectAll().where(planToKysely(plan, { tenant: 'tenant',
 * 'owner.id': 'owner_id' }))`. Values are bound parameters; no SQL text is assembled. Kysely is
 * only a type here: the caller's own Kysely builds the expression.
 *
 * Every comparison is two-valued (a NULL column is "absent", as in decide), so `$nor` and
 * `$nin` negate correctly: `$ne` is IS DISTINCT FROM, `$gt` on NULL is false, not NULL.
 *
 * @throws PlanTranslationError (now, not when the query runs) for an attribute missing from
 *   `columns` or an operator SQL cannot express.
 */
export function planToKysely(plan: QueryPlan, columns: PlanColumns): PlanFilter {
  const column = (attribute: string): Column => {
    const mapped = Object.hasOwn(columns, attribute) ? columns[attribute] : undefined;
    if (typeof mapped !== 'string')
      throw new PlanTranslationError('unknown_attribute', `no column is mapped for attribute "${attribute}"`);
    return mapped;
  };
  const node: SqlNode =
    plan.kind === 'conditional'
      ? document(plan.condition, column)
      : { op: 'literal', value: plan.kind === 'always' };
  return (eb) => render(node, eb as unknown as AnyBuilder);
}

function document(condition: PlanCondition, column: (attribute: string) => Column): SqlNode {
  const children: SqlNode[] = [];
  for (const [key, value] of Object.entries(condition)) {
    if (key === '$and' || key === '$or' || key === '$nor') {
      const parts = (value as PlanCondition[]).map((item) => document(item, column));
      if (key === '$and') children.push({ op: 'and', children: parts });
      else if (key === '$or') children.push({ op: 'or', children: parts });
      else children.push({ op: 'not', child: { op: 'or', children: parts } });
    } else if (key.startsWith('$')) {
      throw new PlanTranslationError('unsupported_operator', `operator ${key} cannot be translated to SQL`);
    } else {
      children.push(field(column(key), value));
    }
  }
  return children.length === 1 ? children[0]! : { op: 'and', children };
}

function field(col: Column, condition: unknown): SqlNode {
  if (!isPlainObject(condition)) return equal(col, condition);
  const parts = Object.entries(condition).map(([operator, value]): SqlNode => {
    if (operator === '$eq') return equal(col, value);
    if (operator === '$ne') return { op: 'not', child: equal(col, value) };
    if (operator in COMPARE)
      return { op: 'compare', column: col, operator: COMPARE[operator as keyof typeof COMPARE], value };
    if (operator === '$in' || operator === '$nin') {
      const list = value as unknown[];
      const node: SqlNode = {
        op: 'in',
        column: col,
        values: list.filter((item) => item !== null),
        orNull: list.includes(null),
      };
      return operator === '$in' ? node : { op: 'not', child: node };
    }
    if (operator === '$exists') return { op: value ? 'not null' : 'null', column: col };
    if (operator === '$all') return { op: 'contains', column: col, values: value as unknown[] };
    if (operator === '$size') return { op: 'size', column: col, value: value as number };
    throw new PlanTranslationError(
      'unsupported_operator',
      `operator ${operator} cannot be translated to SQL`,
    );
  });
  return parts.length === 1 ? parts[0]! : { op: 'and', children: parts };
}

// The same test as the policy compiler's: only plain JSON objects hold operators.
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const equal = (column: Column, value: unknown): SqlNode =>
  value === null ? { op: 'null', column } : { op: 'equal', column, value };

// Rendered against an untyped builder: the column names come from the caller's mapping.
type AnyBuilder = ExpressionBuilder<Record<string, Record<string, unknown>>, string>;

function render(node: SqlNode, eb: AnyBuilder): Expression<SqlBool> {
  const notNull = (column: Column) => eb(column, 'is not', null);
  switch (node.op) {
    case 'literal':
      return eb.lit(node.value);
    case 'and':
      return eb.and(node.children.map((child) => render(child, eb)));
    case 'or':
      return eb.or(node.children.map((child) => render(child, eb)));
    case 'not':
      return eb.not(render(node.child, eb));
    case 'equal':
      return eb(node.column, 'is not distinct from', node.value as unknown as string);
    case 'null':
      return eb(node.column, 'is', null);
    case 'not null':
      return notNull(node.column);
    case 'compare':
      return eb.and([notNull(node.column), eb(node.column, node.operator, node.value as unknown as string)]);
    case 'in': {
      const some: Expression<SqlBool> =
        node.values.length === 0
          ? eb.lit(false)
          : eb.and([notNull(node.column), eb(node.column, 'in', node.values)]);
      return node.orNull ? eb.or([eb(node.column, 'is', null), some]) : some;
    }
    case 'contains':
      return eb.and([notNull(node.column), eb(node.column, '@>', eb.val(node.values))]);
    case 'size':
      return eb.and([
        notNull(node.column),
        eb(eb.fn('cardinality', [node.column]), '=', node.value as unknown as string),
      ]);
  }
}
