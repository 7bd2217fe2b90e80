/** `tools.servers.<name>.options` of the compute server, checked at start with messages that say what to fix. */
import { z } from "zod";
import { parseServerOptions, seeExampleConfig } from "../options.ts";

/** Defaults, named so the README and the config example can quote them. */
export const COMPUTE_DEFAULTS = {
  python_path: "/usr/bin/python3",
  bwrap_path: "/usr/bin/bwrap",
  setpriv_path: "/usr/bin/setpriv",
  sandbox_uid: 65534,
  cpu_s: 10,
  wall_s: 20,
  memory_mb: 256,
  processes: 6,
  open_files: 256,
  tmp_mb: 64,
  max_output_bytes: 64 * 1024,
  max_concurrent: 2,
  memory_total_mb: 3584,
  sessions: false,
  session_idle_s: 600,
  session_cpu_s: 300,
  max_sessions: 16,
  calculate_timeout_ms: 2000,
} as const;

const ComputeOptionsSchema = z
  .strictObject({
    /** The Python the sandbox runs; it must live under /usr (the only tree the sandbox sees). */
    python_path: z.string().startsWith("/").default(COMPUTE_DEFAULTS.python_path),
    bwrap_path: z.string().startsWith("/").default(COMPUTE_DEFAULTS.bwrap_path),
    /** Used only when `lyra tools` runs as root: drops to sandbox_uid before bwrap (else RLIMIT_NPROC is ignored). */
    setpriv_path: z.string().startsWith("/").default(COMPUTE_DEFAULTS.setpriv_path),
    sandbox_uid: z.int().min(1).max(4_294_967_294).default(COMPUTE_DEFAULTS.sandbox_uid),
    /** CPU seconds per call (RLIMIT_CPU). */
    cpu_s: z.int().min(1).max(3600).default(COMPUTE_DEFAULTS.cpu_s),
    /** Wall-clock seconds per call; the sandbox is killed past it. Under the tool loop's tool_timeout_ms (30 s), so the model reads why. */
    wall_s: z.int().min(1).max(3600).default(COMPUTE_DEFAULTS.wall_s),
    /** Address space per process, MiB (RLIMIT_AS); memory_total_mb bounds all processes of all sandboxes together. */
    memory_mb: z.int().min(64).max(65_536).default(COMPUTE_DEFAULTS.memory_mb),
    /** Processes and threads in one sandbox (RLIMIT_NPROC, counted per sandbox). */
    processes: z.int().min(4).max(4096).default(COMPUTE_DEFAULTS.processes),
    open_files: z.int().min(32).max(65_536).default(COMPUTE_DEFAULTS.open_files),
    /** Size of the private /tmp (tmpfs), which also bounds any one file (RLIMIT_FSIZE), MiB. */
    tmp_mb: z.int().min(1).max(16_384).default(COMPUTE_DEFAULTS.tmp_mb),
    /** Output (stdout and stderr together) per call; the sandbox is killed past it. */
    max_output_bytes: z
      .int()
      .min(1024)
      .max(16 * 1024 * 1024)
      .default(COMPUTE_DEFAULTS.max_output_bytes),
    /** Calls running at once on this host; more wait for a slot. */
    max_concurrent: z.int().min(1).max(256).default(COMPUTE_DEFAULTS.max_concurrent),
    /**
     * Memory of every sandbox together (all calls and sessions, their forked children, their /tmp), MiB:
     * a cgroup v2's memory.max where the host allows one, else a cap the rlimits' worst case must fit
     * (bounds.ts). The default leaves room for lyra tools itself under its unit's MemoryMax=4G.
     */
    memory_total_mb: z.int().min(64).max(1_048_576).default(COMPUTE_DEFAULTS.memory_total_mb),
    /** Keep one Python process per conversation so variables live between calls. */
    sessions: z.boolean().default(COMPUTE_DEFAULTS.sessions),
    /** A session unused this long is ended. */
    session_idle_s: z.int().min(1).max(86_400).default(COMPUTE_DEFAULTS.session_idle_s),
    /** CPU seconds a whole session may use (its hard RLIMIT_CPU); each call still gets cpu_s. */
    session_cpu_s: z.int().min(1).max(86_400).default(COMPUTE_DEFAULTS.session_cpu_s),
    /** Sessions kept at once; the least recently used idle one is ended to make room. */
    max_sessions: z.int().min(1).max(1024).default(COMPUTE_DEFAULTS.max_sessions),
    /** Time one calculate expression may take (it runs in a worker thread, stopped past this), ms. */
    calculate_timeout_ms: z.int().min(1).max(60_000).default(COMPUTE_DEFAULTS.calculate_timeout_ms),
  })
  .superRefine((o, ctx) => {
    const one = o.memory_mb + o.tmp_mb;
    if (o.memory_total_mb < one)
      ctx.addIssue({
        code: "custom",
        path: ["memory_total_mb"],
        message: `it must hold one process and its /tmp, memory_mb + tmp_mb = ${one} MiB`,
      });
  });
export type ComputeOptions = z.infer<typeof ComputeOptionsSchema>;

export function parseComputeOptions(server: string, options: Readonly<Record<string, unknown>>): ComputeOptions {
  return parseServerOptions(ComputeOptionsSchema, server, options, computeWording);
}

const computeWording = seeExampleConfig("compute", (key) =>
  key in COMPUTE_DEFAULTS ? `not set (default ${COMPUTE_DEFAULTS[key as keyof typeof COMPUTE_DEFAULTS]})` : "missing",
);
