/** Base of the errors raised by schemas/: bad bodies, oversized payloads, invalid config. */
export class SchemaError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A body could not be decoded or failed its schema. `detail` lists the problems. */
export class InvalidBodyError extends SchemaError {
  readonly detail: string[];
  constructor(message: string, detail: string[] = [], options?: { cause?: unknown }) {
    super("invalid_body", message, options);
    this.detail = detail;
  }
}

/** A payload is larger than the connection's max_payload: refused before sending. */
export class PayloadTooLargeError extends SchemaError {
  readonly size: number;
  readonly limit: number;
  constructor(size: number, limit: number, what = "message") {
    super(
      "payload_too_large",
      `${what} is ${size} bytes, over the server's max_payload of ${limit} bytes; ` +
        "send large data (images) through the JetStream Object Store and pass a reference",
    );
    this.size = size;
    this.limit = limit;
  }
}
