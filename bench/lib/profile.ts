import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Monotonic clock (CLOCK_MONOTONIC on Linux), µs. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** One sample: when it was taken, how long it stands for, and its stack (leaf first). */
interface Sample {
  at: number;
  micros: number;
  stack: ProfileNode['callFrame'][];
}

export interface LoadedProfiles {
  dir: string;
  files: string[];
  samples: Sample[];
}

/** Reads the V8 .cpuprofile files `--cpu-prof` wrote into `dir` (one per process). */
export async function loadProfiles(dir: string): Promise<LoadedProfiles> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  const samples: Sample[] = [];
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    const stacks = new Map<number, ProfileNode['callFrame'][]>();
    const stackOf = (id: number) => {
      let stack = stacks.get(id);
      if (!stack) {
        stack = [];
        for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
          const node = byId.get(at);
          if (node && node.callFrame.functionName !== '(root)') stack.push(node.callFrame);
        }
        stacks.set(id, stack);
      }
      return stack;
    };
    let at = profile.startTime;
    profile.samples.forEach((id, i) => {
      const micros = profile.timeDeltas[i] ?? 0;
      at += micros;
      samples.push({ at, micros, stack: stackOf(id) });
    });
  }
  return { dir, files, samples };
}

export interface SummaryOptions {
  title?: string;
  /** Only samples taken in this monotonic window (µs), e.g. one measured load run. */
  window?: { startMicros: number; endMicros: number };
  /** Requests answered in the window: CPU per request is printed when given. */
  requests?: number;
  top?: number;
}

/**
 * Where the CPU time went: by activity (each sample goes to the nearest frame, from the leaf up,
 * that belongs to a known part of the request path: native frames, hashing, LRU look-ups are
 * charged to their caller), by package (self time) and the top frames by self time. Idle time
 * is left out of the percentages.
 */
export function summarizeSamples(profiles: LoadedProfiles, options: SummaryOptions = {}): string {
  const { window, top = 25 } = options;
  const activities = new Map<string, number>();
  const packages = new Map<string, number>();
  const frames = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const sample of profiles.samples) {
    if (window && (sample.at < window.startMicros || sample.at > window.endMicros)) continue;
    const leaf = sample.stack[0];
    if (!leaf || leaf.functionName === '(idle)') {
      idle += sample.micros;
      continue;
    }
    busy += sample.micros;
    const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + sample.micros);
    add(activities, activityOf(sample.stack));
    add(packages, packageOf(leaf.url, leaf.functionName));
    add(
      frames,
      `${leaf.functionName || '(anonymous)'} ${shortUrl(leaf.url)}${leaf.url ? `:${leaf.lineNumber + 1}` : ''}`,
    );
  }
  if (busy === 0) return `${options.title ?? 'CPU profile'}: no samples${window ? ' in the window' : ''}`;
  const table = (title: string, entries: Map<string, number>, limit: number) => [
    title,
    ...[...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, micros]) => {
        const perRequest = options.requests
          ? `${(micros / options.requests).toFixed(1).padStart(7)} µs/req  `
          : '';
        return `  ${((100 * micros) / busy).toFixed(1).padStart(5)} %  ${perRequest}${name}`;
      }),
  ];
  const seconds = (busy + idle) / 1e6;
  const head = [
    `${options.title ?? 'CPU profile of Tollgate'}: ${(busy / 1e6).toFixed(2)} s busy of ${seconds.toFixed(2)} s sampled` +
      ` (${((100 * busy) / (busy + idle)).toFixed(0)} % of one core)` +
      (options.requests
        ? `; ${options.requests} requests → ${(busy / options.requests).toFixed(1)} µs sampled CPU per request`
        : ''),
  ];
  return [
    ...head,
    ...table('by activity (% of busy time):', activities, 20),
    ...table('self time by package:', packages, 12),
    ...table(`top ${top} frames by self time:`, frames, top),
  ].join('\n');
}

/** The whole profile (every sample of every process), as bench/token.ts prints it. */
export async function summarizeProfile(dir: string, top = 25): Promise<string> {
  const profiles = await loadProfiles(dir);
  if (profiles.files.length === 0) return `no .cpuprofile in ${dir}`;
  return summarizeSamples(profiles, {
    title: `CPU profile of Tollgate (${profiles.files.join(', ')} in ${dir})`,
    top,
  });
}

/** Activities of a /decide request, matched on a frame's URL (first match wins). */
const ACTIVITIES: [string, RegExp][] = [
  ['policy evaluation (src/pdp, CASL)', /\/src\/pdp\/|node_modules\/@(casl|ucast)\//],
  ['decision metrics (prom-client)', /node_modules\/(prom-client|tdigest|bintrees)\//],
  [
    'zod schema parsing (parseInput)',
    /node_modules\/zod\/|\/src\/common\/input\.ts|\/src\/decide\/schema\.ts/,
  ],
  ['assertSafeJson (reserved keys, depth)', /\/src\/common\/safe-json\.ts/],
  ['decision engine (validation, timing, decision log)', /\/src\/decide\//],
  [
    'bearer token checks (sha256 cache key, LRU, denylist, jose)',
    /\/src\/oidc\/(access-token-verifier|revocation-list)\.ts|\/src\/http\/admin-auth\.ts|node_modules\/jose\//,
  ],
  ['subject token → subject (claims, user attrs)', /\/src\/oidc\/(subjects|directories)\.ts/],
  [
    'body reading, JSON.parse, content-type checks',
    /node_modules\/(@koa\/bodyparser|co-body|raw-body|inflation|iconv-lite|type-is|content-type|media-typer|mime-types|mime-db|bytes|unpipe|destroy|http-errors)\//,
  ],
  ['logging (pino)', /node_modules\/(pino|pino-std-serializers|sonic-boom|thread-stream|fast-redact)\//],
  ['own middleware & handler (src/http)', /\/src\/http\//],
  [
    'koa + @koa/router (context, compose, routing, respond incl. JSON.stringify)',
    /node_modules\/(koa|@koa\/router|koa-compose|koa-mount|path-to-regexp|delegates|cookies|keygrip|on-finished|statuses|accepts|negotiator|vary|encodeurl|escape-html|fresh|parseurl|cache-content-type|content-disposition|ee-first|depd|koa-convert|http-assert|only|debug|ms)\//,
  ],
  ['node core (http parser & writes, net, streams, timers)', /^node:/],
];

/** Frames charged to their caller: natives without a URL, hashing, LRU look-ups, async glue. */
const CHARGE_TO_CALLER = /^$|^node:internal\/crypto\/|node_modules\/lru-cache\//;

function activityOf(stack: Sample['stack']): string {
  const leaf = stack[0]!;
  if (leaf.url === '' && leaf.functionName.startsWith('(')) {
    if (leaf.functionName === '(garbage collector)') return 'garbage collection';
    if (leaf.functionName === '(program)') return 'V8 / native, no JS frame ((program))';
  }
  for (const frame of stack) {
    if (CHARGE_TO_CALLER.test(frame.url)) continue;
    for (const [name, pattern] of ACTIVITIES) if (pattern.test(frame.url)) return name;
    return `other: ${packageOf(frame.url, frame.functionName)}`;
  }
  return 'native, no JS caller';
}

function shortUrl(url: string): string {
  const at = url.lastIndexOf('node_modules/');
  if (at >= 0) return url.slice(at + 'node_modules/'.length);
  const src = url.indexOf('/src/');
  return src >= 0 ? url.slice(src + 1) : url;
}

function packageOf(url: string, functionName: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (match?.[1]) return match[1];
  if (url.startsWith('node:')) return 'node: internals';
  if (url.includes('/src/')) return 'tollgate src/';
  if (url === '') return functionName.startsWith('(') ? functionName : '(native / V8)';
  return url;
}
