import type { Chunk, FinalInfo, RoleRequest, ToolCall } from "../../schemas/index.ts";

/** What a role call returns once complete. */
export interface RoleResult {
  text: string;
  final: FinalInfo;
  toolCalls: ToolCall[];
  host: string;
  attempts: number;
}

export interface RoleCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  requestId?: string;
  conversation?: string;
}

/** A stream of chunks that also resolves to the whole result. */
export type RoleStream = AsyncIterable<Chunk> & { result: Promise<RoleResult> };

/** The part of the role client the conductor uses (the mesh client, or a fallback). */
export interface RoleCaller {
  stream(role: string, request: RoleRequest, opts?: RoleCallOptions): RoleStream;
}

/** Where the committee's roles are, as the conductor sees them. */
export interface CommitteeConfig {
  /** Role that classifies; default "router". */
  router: string;
  /** Role that writes the final reply; default "voice". */
  voice: string;
  /** Specialists the router may choose. */
  specialists: string[];
  /** Used when the router fails or names an unknown specialist. */
  defaultSpecialist: string;
}
