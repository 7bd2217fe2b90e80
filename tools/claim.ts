/**
 * Claim-check for results over max_payload: the body is parked in a JetStream Object Store bucket
 * per tenant (`MCP_CLAIMS_<tenant>`) under a random id; the caller fetches it, checks its SHA-256,
 * and deletes it. Objects nobody fetches expire with the bucket's max age.
 */
import { createHash, randomUUID } from "node:crypto";
import { Objm, type ObjectStore } from "@nats-io/obj";
import type { Mesh } from "../mesh/index.ts";
import { McpCode } from "./wire.ts";
import { McpWireError } from "./errors.ts";

/** How long an unfetched claim lives, ms. */
export const DEFAULT_CLAIM_MAX_AGE_MS = 5 * 60_000;

export function claimBucket(tenant: string): string {
  return `MCP_CLAIMS_${tenant}`;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

async function bucket(mesh: Mesh, tenant: string, maxAgeMs: number, create: boolean): Promise<ObjectStore> {
  const objm = new Objm(mesh.nc);
  return create ? objm.create(claimBucket(tenant), { ttl: maxAgeMs * 1_000_000 }) : objm.open(claimBucket(tenant));
}

/** Parks `body`; returns the claim id and digest. */
export async function putClaim(
  mesh: Mesh,
  tenant: string,
  body: Uint8Array,
  maxAgeMs = DEFAULT_CLAIM_MAX_AGE_MS,
): Promise<{ id: string; sha256: string }> {
  const os = await bucket(mesh, tenant, maxAgeMs, true);
  const id = randomUUID();
  await os.putBlob({ name: id }, body);
  return { id, sha256: sha256Hex(body) };
}

/** Fetches, verifies and deletes a claim. A missing object or a bad digest is -32010 (re-issue). */
export async function takeClaim(mesh: Mesh, tenant: string, id: string, sha256: string | undefined): Promise<Uint8Array> {
  let body: Uint8Array | null;
  let os: ObjectStore;
  try {
    os = await bucket(mesh, tenant, DEFAULT_CLAIM_MAX_AGE_MS, false);
    body = await os.getBlob(id);
  } catch (err) {
    throw new McpWireError(
      McpCode.StreamLost,
      `claim ${id} could not be fetched: ${(err as Error).message}; re-issue the request`,
      undefined,
      { cause: err },
    );
  }
  if (body === null) throw new McpWireError(McpCode.StreamLost, `claim ${id} is gone (expired or already taken); re-issue the request`);
  if (sha256 !== undefined && sha256Hex(body) !== sha256) {
    throw new McpWireError(McpCode.StreamLost, `claim ${id} failed its SHA-256 check; re-issue the request`);
  }
  await os.delete(id).catch(() => undefined);
  return body;
}
