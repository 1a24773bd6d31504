/**
 * pino logger: JSON lines for journald/log shippers, human-readable when stdout is a terminal
 * (if pino-pretty is installed; it is a development dependency).
 */
import { createRequire } from 'node:module';
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export function createLogger(level: LevelWithSilent, pretty = process.stdout.isTTY): Logger {
  if (pretty && canResolve('pino-pretty')) {
    return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return pino({ level, base: { name: 'sipcapture' } });
}

function canResolve(id: string): boolean {
  try {
    createRequire(import.meta.url).resolve(id);
    return true;
  } catch {
    return false;
  }
}
