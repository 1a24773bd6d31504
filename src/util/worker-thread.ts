/**
 * Starts a worker thread from a module next to the caller, compiled or under tsx alike.
 *
 * Compiled (dist/), the worker is the .js file beside the caller. Under tsx (tests, `node
 * --import tsx`) it is the .ts file, and on Node 20 a worker does not inherit the loader hooks
 * of `--import tsx`: the worker first registers tsx itself, then imports the .ts file. Resource
 * limits apply to the compiled worker only (the tsx loader needs the default heap).
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';

export function spawnSiblingWorker(callerUrl: string, name: string, workerData: unknown, resourceLimits?: ResourceLimits): Worker {
  const runningTs = callerUrl.endsWith('.ts');
  const url = new URL(`./${name}${runningTs ? '.ts' : '.js'}`, callerUrl);
  if (!runningTs) return new Worker(url, resourceLimits === undefined ? { workerData } : { workerData, resourceLimits });
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, execArgv: [], workerData });
}
