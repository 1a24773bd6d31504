/** Runs the real `sipcapture` CLI as a child process (compiled JS, or the .ts source under tsx). */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
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
