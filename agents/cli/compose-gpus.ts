/**
 * The GPU part of the compose deployment (`lyra compose`): for each host of the mesh config, an
 * Ollama service on that host's GPUs (`hosts.<host>.gpus`, an NVIDIA device reservation) and the
 * `lyra agent --host <host>` beside it, both health-checked. The file stands alone on a GPU box
 * (NATS_URL names the cluster) or joins infra/compose.yaml (`-f compose.yaml -f compose.gpus.yaml`),
 * where the cluster's service names are the default.
 */
import type { MeshConfig } from "../../schemas/index.ts";
import { UsageError } from "./command.ts";

/** The Ollama image: the version infra/setup/versions.sh installs (OLLAMA_VERSION). */
export const OLLAMA_IMAGE = "ollama/ollama:0.24.0";
/** The agent's /metrics, /healthz and /readyz port inside its container (every container has its own). */
export const AGENT_PORT = 9464;
const NATS_DEFAULT = "tls://nats-0:4222,tls://nats-1:4222,tls://nats-2:4222";
const HEALTH = { interval: "15s", timeout: "5s", retries: 3, start_period: "60s" };

type Service = Record<string, unknown>;
export interface GpuCompose {
  services: Record<string, Service>;
  volumes: Record<string, Record<string, never>>;
}

/** Ollama for one host: as many parallel slots as its roles' most, every model of its roles loaded at once. */
function ollamaService(cfg: MeshConfig, host: string): Service {
  const h = cfg.hosts[host]!;
  const roles = h.roles.map((r) => cfg.roles[r]!);
  const models = new Set(roles.map((r) => r.model));
  const gpus = h.gpus?.map(String);
  return {
    image: OLLAMA_IMAGE,
    restart: "unless-stopped",
    environment: {
      OLLAMA_NUM_PARALLEL: String(Math.max(...roles.map((r) => r.slots))),
      OLLAMA_MAX_LOADED_MODELS: String(models.size),
    },
    volumes: [`ollama-${host}:/root/.ollama`],
    ...(gpus
      ? { deploy: { resources: { reservations: { devices: [{ driver: "nvidia", device_ids: gpus, capabilities: ["gpu"] }] } } } }
      : {}),
    // The image has no curl; its own CLI asks the server.
    healthcheck: { test: ["CMD", "ollama", "ls"], ...HEALTH },
  };
}

function agentService(host: string): Service {
  const user = `agent-${host}`;
  return {
    build: { context: "..", dockerfile: "infra/Dockerfile", target: "lyra" },
    image: "lyra-mesh:local",
    init: true,
    restart: "unless-stopped",
    stop_grace_period: "30s",
    command: ["agent", "--host", host, "--metrics-port", String(AGENT_PORT)],
    depends_on: { [`ollama-${host}`]: { condition: "service_healthy" } },
    environment: {
      NATS_URL: `\${NATS_URL:-${NATS_DEFAULT}}`,
      NATS_CA_FILE: "/etc/lyra/certs/ca.pem",
      NATS_NKEY_FILE: `/etc/lyra/creds/${user}.nk`,
      NATS_INBOX_PREFIX: `_INBOX.${user}`,
      LYRA_CONFIG: "/etc/lyra/mesh.yaml",
      LYRA_LOG_LEVEL: "${LYRA_LOG_LEVEL:-info}",
      OLLAMA_HOST: `http://ollama-${host}:11434`,
      LITELLM_BASE_URL: "${LITELLM_BASE_URL:-http://litellm:4000/v1}",
      LITELLM_API_KEY: "${LITELLM_API_KEY:?set LITELLM_API_KEY (the key lyra uses for the LiteLLM proxy)}",
      NODE_OPTIONS: "--max-semi-space-size=1",
      // Read by the healthcheck (infra/compose.yaml's lyra services do the same).
      LYRA_HEALTH_URL: `http://127.0.0.1:${AGENT_PORT}/readyz`,
    },
    volumes: [
      "${LYRA_MESH_CONFIG:-../config/mesh.yaml}:/etc/lyra/mesh.yaml:ro",
      "${LYRA_CREDS_DIR:-../creds}:/etc/lyra/creds:ro",
      "./nats/certs:/etc/lyra/certs:ro",
    ],
    healthcheck: { test: HEALTHCHECK, ...HEALTH },
  };
}

/** The lyra image's healthcheck: GET $LYRA_HEALTH_URL answers 2xx (the image has node, not curl). */
export const HEALTHCHECK = [
  "CMD",
  "node",
  "-e",
  "fetch(process.env.LYRA_HEALTH_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))",
];

/** The services of `hosts` (default: every host of the config). */
export function gpuCompose(cfg: MeshConfig, hosts: readonly string[] = Object.keys(cfg.hosts)): GpuCompose {
  const unknown = hosts.filter((h) => !cfg.hosts[h]);
  if (unknown.length)
    throw new UsageError(`no host '${unknown[0]}' in the config's hosts (${Object.keys(cfg.hosts).join(", ")}); name one of them`);
  const services: Record<string, Service> = {};
  const volumes: Record<string, Record<string, never>> = {};
  for (const host of hosts) {
    services[`ollama-${host}`] = ollamaService(cfg, host);
    services[`agent-${host}`] = agentService(host);
    volumes[`ollama-${host}`] = {};
  }
  return { services, volumes };
}
