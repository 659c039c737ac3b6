import { readOwnPath, splitPath } from './attribute-path.ts';
import type { ResourceRef } from './types.ts';

/**
 * What conditions see of a resource: its `attrs`, read through own properties only, plus its
 * `id` as the attribute `id` when the attrs carry none (so a rule such as
 * `id: "${subject.attrs.project}"` works at a gateway that knows only the id from the path).
 *
 * The caller's objects are wrapped, never copied or merged (no Object.assign of untrusted
 * input), and CASL never sees them directly, so a `__caslSubjectType__` key cannot retype them.
 */
export class ResourceView {
  readonly attrs: unknown;
  readonly id: string | undefined;

  constructor(resource: ResourceRef) {
    this.attrs = resource.attrs;
    this.id = typeof resource.id === 'string' ? resource.id : undefined;
  }

  /** The attribute at dotted `path`, or undefined when absent. */
  read(path: string): unknown {
    return this.readPath(splitPath(path));
  }

  /** The attribute at a path already split into segments (see splitPath). */
  readPath(segments: readonly string[]): unknown {
    const root = segments[0]!;
    const attrs = this.attrs;
    if (attrs !== null && typeof attrs === 'object' && Object.hasOwn(attrs, root))
      return readOwnPath((attrs as Record<string, unknown>)[root], segments, 1);
    return root === 'id' && segments.length === 1 ? this.id : undefined;
  }
}
