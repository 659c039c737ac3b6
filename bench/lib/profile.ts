import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Reads the V8 .cpuprofile files `--cpu-prof` wrote into `dir` and lists where the self time went:
 * the top frames, and the same time grouped by package (node_modules/<name>, node: internals, our
 * src/).
 */
export async function summarizeProfile(dir: string, top = 25): Promise<string> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length === 0) return `no .cpuprofile in ${dir}`;
  const frames = new Map<string, number>();
  const packages = new Map<string, number>();
  let total = 0;
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    profile.samples.forEach((id, i) => {
      const node = byId.get(id);
      const micros = profile.timeDeltas[i] ?? 0;
      if (!node) return;
      total += micros;
      const { functionName, url, lineNumber } = node.callFrame;
      const frame = `${functionName || '(anonymous)'} ${shortUrl(url)}${url ? `:${lineNumber + 1}` : ''}`;
      frames.set(frame, (frames.get(frame) ?? 0) + micros);
      const owner = packageOf(url, functionName);
      packages.set(owner, (packages.get(owner) ?? 0) + micros);
    });
  }
  const table = (title: string, entries: Map<string, number>, limit: number) => [
    title,
    ...[...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, micros]) => `  ${((100 * micros) / total).toFixed(1).padStart(5)} %  ${name}`),
  ];
  return [
    `CPU profile of Tollgate (${(total / 1e6).toFixed(1)} s sampled; ${files.join(', ')} in ${dir})`,
    ...table('self time by package:', packages, 15),
    ...table(`top ${top} frames by self time:`, frames, top),
  ].join('\n');
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
