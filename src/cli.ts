#!/usr/bin/env node
// `deployguard <command>`: the package's bin. Parses flags and hands over; no logic of its own.
import { parseArgs } from 'node:util';
import { readStdin } from './offline/documents.ts';
import { EXIT_INVALID, runEvaluate } from './offline/evaluate-command.ts';
import { VERSION_STRING } from './version.ts';

const USAGE = `deployguard ${VERSION_STRING} — defends Kubernetes clusters against MITRE ATT&CK T1610 (Deploy Container)

Usage:
  deployguard run [flags]            the operator (deployguard run --help lists its flags)
  deployguard evaluate -p POLICY.yaml [-p ...] -f RESOURCES.yaml [-f ...] [-o table|json] [--at TIME]
  deployguard version

evaluate judges Pods and workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob,
ReplicationController) in the resource files against the ContainerDeploymentPolicies in the policy
files, offline. Files hold multi-document YAML or JSON; "-" reads stdin. Namespace documents supply
labels for namespaceSelector; a resource without a namespace is in "default".
  -p, --policy FILE     policy file (repeatable)
  -f, --filename FILE   resource file (repeatable)
  -o, --output FORMAT   table (default) or json
      --at TIME         evaluate as if at this RFC 3339 time (schedule windows); default now

Exit status: 0 no violations, 1 violations found, 2 invalid input.
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const err = (s: string): void => void process.stderr.write(s);
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? EXIT_INVALID : 0;
  }
  if (command === 'version' || command === '--version') {
    process.stdout.write(`${VERSION_STRING}\n`);
    return 0;
  }
  if (command === 'run') {
    // Loaded only here: the offline CLI must not pay for the Kubernetes client at start-up.
    const { runOperator } = await import('./main.ts');
    // Open sockets or timers must not keep a stopped operator alive.
    process.exit(await runOperator(rest));
  }
  if (command !== 'evaluate') {
    err(`error: unknown command "${command}"\n\n${USAGE}`);
    return EXIT_INVALID;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        policy: { type: 'string', short: 'p', multiple: true },
        filename: { type: 'string', short: 'f', multiple: true },
        output: { type: 'string', short: 'o', default: 'table' },
        at: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    err(`error: ${(e as Error).message}\n`);
    return EXIT_INVALID;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const problems: string[] = [];
  if (!values.policy?.length) problems.push('at least one -p/--policy file is required');
  if (!values.filename?.length) problems.push('at least one -f/--filename file is required');
  if (values.output !== 'table' && values.output !== 'json')
    problems.push(`-o must be table or json, got "${values.output}"`);
  const now = values.at === undefined ? new Date() : new Date(values.at);
  if (Number.isNaN(now.getTime()))
    problems.push(`--at must be an RFC 3339 time, got "${values.at}"`);
  if (problems.length > 0) {
    err(problems.map((p) => `error: ${p}\n`).join(''));
    return EXIT_INVALID;
  }
  return runEvaluate(
    {
      policyFiles: values.policy ?? [],
      resourceFiles: values.filename ?? [],
      output: values.output as 'table' | 'json',
      now,
    },
    { stdout: (s) => void process.stdout.write(s), stderr: err, stdin: readStdin },
  );
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`internal error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 3;
  },
);
