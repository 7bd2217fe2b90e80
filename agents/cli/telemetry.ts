/** Turns on OTLP span export for a long-running command when the config asks (telemetry.otlp). */
import type { MeshConfig } from "../../schemas/index.ts";
import { type Logger, enableOtlp } from "../../mesh/index.ts";
import { UsageError } from "./command.ts";

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * Loads OpenTelemetry and exports this process's spans when `telemetry.otlp` is set; otherwise
 * loads nothing. Returns what flushes and stops the export (a no-op when it is off).
 */
export async function startTelemetry(
  cfg: MeshConfig,
  process: string,
  log: Logger,
  resource: Record<string, string> = {},
  env = globalThis.process.env,
): Promise<() => Promise<void>> {
  const o = cfg.telemetry?.otlp;
  if (!o) return async () => undefined;
  const headers = Object.fromEntries(
    Object.entries(o.headers).map(([k, v]) => [
      k,
      v.replace(VAR, (_, name: string) => {
        const value = env[name];
        if (value === undefined)
          throw new UsageError(
            `telemetry.otlp.headers.${k} uses \${${name}} but the environment has no ${name}; export it or remove the header`,
          );
        return value;
      }),
    ]),
  );
  const serviceName = `${o.service_prefix}-${process}`;
  const t = await enableOtlp({ endpoint: o.endpoint, headers, serviceName, resource });
  log.info({ endpoint: o.endpoint, serviceName }, "exporting spans over OTLP/HTTP");
  return () => t.close().catch((err: unknown) => log.warn({ err }, "OTLP export did not flush"));
}
