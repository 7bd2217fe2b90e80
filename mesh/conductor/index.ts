export { CONDUCTOR_DURABLE, startConductor } from "./conductor.ts";
export type { Conductor, ConductorOptions } from "./conductor.ts";
export { buildHistory, readConversation } from "./history.ts";
export type { HistoryLimits } from "./history.ts";
export type { SegmentOptions } from "./segment.ts";
export type { CommitteeConfig, RoleCaller, RoleCallOptions, RoleResult, RoleStream } from "./types.ts";
export { createCoreMetrics } from "./metrics.ts";
export type { CoreMetrics, CoreLive } from "./metrics.ts";
export type { ConductorEvent } from "./types.ts";
