/**
 * Errors of tools/. `ToolsError` is local (configuration, lifecycle) and never goes on the wire;
 * `McpWireError` is a JSON-RPC error a tool request ended with, wire-synthesized or the server's.
 */
export class ToolsError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class McpWireError extends Error {
  /** The JSON-RPC error code (-32010 stream lost, -32011 no server, -32012 too large, ...). */
  readonly rpcCode: number;
  readonly data: unknown;
  constructor(rpcCode: number, message: string, data?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.rpcCode = rpcCode;
    this.data = data;
  }
}
