// The pinned test tools (helm, promtool) built by test/tools/build.sh into the cache outside the
// clone. `make test` builds them first (make tools-build); a test run on its own builds what is
// missing here, so a fresh clone works either way. See docs/tools.md.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, run } from './cluster.ts';

export type Tool = 'helm' | 'promtool';

const buildScript = join(repoRoot, 'test', 'tools', 'build.sh');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where build.sh puts (or has put) the tool's binary. */
async function printedPath(tool: Tool): Promise<string> {
  const r = await run('bash', [buildScript, '--print', tool]);
  const path = r.stdout.trim().split(' ')[1];
  if (!path) throw new Error(`test/tools/build.sh --print ${tool} printed no path: ${r.stdout}`);
  return path;
}

const found = new Map<Tool, Promise<string>>();

/**
 * The tool's binary, built by test/tools/build.sh if it is not cached yet (a cold build
 * takes 9 to 13 minutes per tool on 2 cores: give the calling hook a long timeout). Throws
 * with the build's own message when it cannot be had.
 */
export function toolPath(tool: Tool): Promise<string> {
  let p = found.get(tool);
  if (!p) {
    p = (async () => {
      const path = await printedPath(tool);
      if (executable(path)) return path;
      const build = await run('bash', [buildScript, tool], {
        allowFail: true,
        inheritOutput: true,
        timeoutMs: 45 * 60_000,
      });
      if (build.code !== 0 || !executable(path))
        throw new Error(
          `${tool} is not available: test/tools/build.sh ${tool} exited with ${build.code} and ` +
            `${path} is ${executable(path) ? '' : 'not '}there. Run \`make tools-build\` and read ` +
            'its output (it needs Go 1.26 and the Go module proxy).',
        );
      return path;
    })();
    // A failure is not cached: the next caller tries again and reports it again.
    p.catch(() => found.delete(tool));
    found.set(tool, p);
  }
  return p;
}
