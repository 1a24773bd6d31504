/** Runs the real `sipcapture` CLI as a child process (compiled JS, or the .ts source under tsx). */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT } from './env.js';

const underTsx = import.meta.url.endsWith('.ts');

export function cliCommand(args: readonly string[]): { cmd: string; argv: string[] } {
  const entry = underTsx ? path.join(PROJECT_ROOT, 'src', 'cli.ts') : path.join(PROJECT_ROOT, 'dist', 'src', 'cli.js');
  const nodeArgs = underTsx ? ['--import', 'tsx', entry] : [entry];
  return { cmd: process.execPath, argv: [...nodeArgs, ...args] };
}

export function spawnCli(args: readonly string[]): ChildProcess {
  const { cmd, argv } = cliCommand(args);
  return spawn(cmd, argv, { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: readonly string[], timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sipcapture ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A `sipcapture run` child process, its exit, and every line it has logged so far. */
export interface DaemonProcess {
  proc: ChildProcess;
  exited: Promise<number | null>;
  lines: string[];
}

/** Starts `sipcapture run -c configFile` and resolves once it logs "sipcapture running" (30 s at most). */
export async function startDaemonProcess(configFile: string, onLine?: (line: string) => void): Promise<DaemonProcess> {
  const proc = spawnCli(['run', '-c', configFile]);
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines: string[] = [];
  const rl = readline.createInterface({ input: proc.stdout! });
  rl.on('line', (line) => {
    lines.push(line);
    onLine?.(line);
  });
  const running = new Promise<void>((resolve) => rl.on('line', (line) => line.includes('"sipcapture running"') && resolve()));
  const first = await Promise.race([running.then(() => 'ok'), exited.then(() => 'exited'), sleep(30_000).then(() => 'timeout')]);
  if (first !== 'ok') {
    proc.kill('SIGKILL');
    throw new Error(`daemon did not start (${first}): ${stderr}${lines.join('\n')}`);
  }
  return { proc, exited, lines };
}
