/** Worker-thread entry of the load generator: runs one sender with the options it was given. */
import { parentPort, workerData } from 'node:worker_threads';
import { runSender, type SenderOptions } from './sender.js';

const summary = await runSender(workerData as SenderOptions);
parentPort?.postMessage(summary);
