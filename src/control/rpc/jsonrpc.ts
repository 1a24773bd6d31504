/**
 * JSON-RPC 2.0 dispatch, transport-free: text in, text out. The HTTP and unix-socket servers
 * both call `handleText`. Method failures are faults with Kamailio's numeric codes (500, 400),
 * as Kamailio's jsonrpcs module sends them; protocol errors use the JSON-RPC 2.0 codes with
 * jsonrpcs' texts ("Parse Error", "Method Not Found", …).
 */

export type RpcParams = readonly unknown[];

/** Who sent a request, for the log of what it changed: `rpc_socket PATH` or `http ADDRESS:PORT`. */
export type RpcCaller = string;

export interface RpcMethod {
  name: string;
  /** One line, returned by system.methodHelp (Kamailio's RPC doc string). */
  doc: string;
  handler(params: RpcParams, caller: RpcCaller): unknown;
}

/** A method's failure: becomes `{"error": {"code": code, "message": message}}`. */
export class RpcFault extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'RpcFault';
  }
}

export const RpcErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
} as const;

/** jsonrpcs' texts for the standard codes. */
const STANDARD_TEXT: Readonly<Record<number, string>> = {
  [RpcErrorCode.PARSE_ERROR]: 'Parse Error',
  [RpcErrorCode.INVALID_REQUEST]: 'Invalid Request',
  [RpcErrorCode.METHOD_NOT_FOUND]: 'Method Not Found',
  [RpcErrorCode.INVALID_PARAMS]: 'Invalid Parameters',
  [RpcErrorCode.INTERNAL_ERROR]: 'Internal Error',
};

export function standardFault(code: (typeof RpcErrorCode)[keyof typeof RpcErrorCode]): RpcFault {
  return new RpcFault(code, STANDARD_TEXT[code] ?? 'Unexpected Error');
}

export type RpcId = string | number | null;

export interface RpcResponse {
  jsonrpc: '2.0';
  result?: unknown;
  error?: { code: number; message: string };
  id: RpcId;
}

/** Largest request accepted by either transport, bytes. */
export const MAX_REQUEST_BYTES = 64 * 1024;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errorResponse(id: RpcId, fault: RpcFault): RpcResponse {
  return { jsonrpc: '2.0', error: { code: fault.code, message: fault.message }, id };
}

export class RpcDispatcher {
  private readonly methods = new Map<string, RpcMethod>();

  /** @param onError called for a handler that threw something other than an RpcFault (a bug). */
  constructor(
    methods: readonly RpcMethod[],
    private readonly onError: (method: string, err: unknown) => void = () => undefined,
  ) {
    for (const m of methods) this.methods.set(m.name, m);
  }

  names(): string[] {
    return [...this.methods.keys()].sort();
  }

  method(name: string): RpcMethod | undefined {
    return this.methods.get(name);
  }

  /**
   * One request or a batch (array) as text. Resolves to the reply (serialise it with
   * JSON.stringify), or null when nothing is to be sent (only notifications: no id).
   */
  async handleText(text: string, caller: RpcCaller = 'unknown'): Promise<RpcResponse | RpcResponse[] | null> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return errorResponse(null, standardFault(RpcErrorCode.PARSE_ERROR));
    }
    if (Array.isArray(parsed)) {
      if (parsed.length === 0) return errorResponse(null, standardFault(RpcErrorCode.INVALID_REQUEST));
      const replies: RpcResponse[] = [];
      for (const req of parsed) {
        const r = await this.handleOne(req, caller);
        if (r !== null) replies.push(r);
      }
      return replies.length === 0 ? null : replies;
    }
    return this.handleOne(parsed, caller);
  }

  /** One parsed request object. */
  async handleOne(req: unknown, caller: RpcCaller = 'unknown'): Promise<RpcResponse | null> {
    if (!isRecord(req)) return errorResponse(null, standardFault(RpcErrorCode.INVALID_REQUEST));
    const rawId = req['id'];
    const hasId = Object.hasOwn(req, 'id');
    const idValid = rawId === null || typeof rawId === 'string' || (typeof rawId === 'number' && Number.isFinite(rawId));
    const id: RpcId = idValid ? (rawId) : null;
    if ((hasId && !idValid) || req['jsonrpc'] !== '2.0' || typeof req['method'] !== 'string') {
      return errorResponse(id, standardFault(RpcErrorCode.INVALID_REQUEST));
    }
    const name = req['method'];
    const rawParams = req['params'];
    let params: RpcParams;
    if (rawParams === undefined) params = [];
    else if (Array.isArray(rawParams)) params = rawParams;
    // jsonrpcs walks an object's members in order, like positional parameters.
    else if (isRecord(rawParams)) params = Object.values(rawParams);
    else return hasId ? errorResponse(id, standardFault(RpcErrorCode.INVALID_PARAMS)) : null;

    const method = this.methods.get(name);
    let response: RpcResponse;
    if (method === undefined) {
      response = errorResponse(id, standardFault(RpcErrorCode.METHOD_NOT_FOUND));
    } else {
      try {
        const result: unknown = await method.handler(params, caller);
        response = { jsonrpc: '2.0', result: result ?? null, id };
      } catch (err) {
        if (err instanceof RpcFault) {
          response = errorResponse(id, err);
        } else {
          this.onError(name, err);
          response = errorResponse(id, standardFault(RpcErrorCode.INTERNAL_ERROR));
        }
      }
    }
    return hasId ? response : null;
  }
}

/**
 * HTTP status for a reply. jsonrpcs uses a fault's code as the HTTP status (500 for the
 * sipcapture.status faults); the JSON-RPC protocol errors map to 400/404/500. A batch, or a
 * success, is 200: the JSON body always carries the details.
 */
export function httpStatusFor(reply: RpcResponse | RpcResponse[]): number {
  if (Array.isArray(reply) || reply.error === undefined) return 200;
  const code = reply.error.code;
  if (code >= 400 && code <= 599) return code;
  if (code === RpcErrorCode.METHOD_NOT_FOUND) return 404;
  if (code === RpcErrorCode.INTERNAL_ERROR) return 500;
  if (code === RpcErrorCode.PARSE_ERROR || code === RpcErrorCode.INVALID_REQUEST || code === RpcErrorCode.INVALID_PARAMS) return 400;
  return 200;
}
