/** A message body on the mesh: encoded in the mesh's encoding with its Content-Type, decoded and validated by it. */
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/nats-core";
import { contentTypeOf, decode, encode, Header, validate } from "../schemas/index.ts";
import type { z } from "zod";
import type { Mesh } from "./connect.ts";

/** Encodes a body in the mesh's encoding, with its Content-Type and any extra headers. */
export function encodeBody(mesh: Mesh, value: unknown, extra: Record<string, string> = {}): { data: Uint8Array; headers: MsgHdrs } {
  const h = natsHeaders();
  h.set(Header.ContentType, contentTypeOf(mesh.encoding));
  for (const [k, v] of Object.entries(extra)) h.set(k, v);
  return { data: encode(value, mesh.encoding), headers: h };
}

/** Decodes and validates a stored or received body by its Content-Type header. */
export function decodeBody<S extends z.ZodType>(schema: S, msg: { data: Uint8Array; headers?: MsgHdrs }, what: string): z.infer<S> {
  const d = decode(msg.data, msg.headers?.get(Header.ContentType) || undefined);
  return validate(schema, d.value, what);
}
