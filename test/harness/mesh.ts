/**
 * The set-up most mesh tests share: a nats-server of their own and two connections to it, one for
 * the agent side (responders) and one for the caller, so traffic crosses the server as in
 * production. One disposal closes what was handed to `own()` (last first), the connections and then
 * the server, so fixtures built on this one (agent hosts, doubles, conductors) need no tear-down of
 * their own.
 */
import { connectMesh, type Mesh, type MeshOptions } from "../../mesh/connect.ts";
import { startNatsServer, type NatsServer, type NatsServerOptions } from "./nats-server.ts";

export interface MeshFixture extends AsyncDisposable {
  readonly server: NatsServer;
  /** The connection responders serve on. */
  readonly agent: Mesh;
  /** The connection calls are made from. */
  readonly caller: Mesh;
  /** One more connection to the server (such as with its own inbox prefix), closed with the fixture. */
  connect(opts?: Omit<MeshOptions, "servers">): Promise<Mesh>;
  /** Hands a resource to the fixture, which disposes it before the connections (the last handed first); returns it. */
  own<T extends AsyncDisposable>(resource: T): T;
}

/** Starts the server (JetStream off unless `server` says otherwise) and connects agent and caller. */
export async function startMeshFixture(o: { server?: NatsServerOptions } = {}): Promise<MeshFixture> {
  const server = await startNatsServer({ jetstream: false, ...o.server });
  const meshes: Mesh[] = [];
  const owned: AsyncDisposable[] = [];
  let disposed = false;
  const connect = async (opts: Omit<MeshOptions, "servers"> = {}) => {
    const m = await connectMesh({ ...opts, servers: server.url });
    meshes.push(m);
    return m;
  };
  try {
    const agent = await connect();
    const caller = await connect();
    return {
      server,
      agent,
      caller,
      connect,
      own(resource) {
        owned.push(resource);
        return resource;
      },
      async [Symbol.asyncDispose]() {
        if (disposed) return;
        disposed = true;
        try {
          for (const r of owned.reverse()) await r[Symbol.asyncDispose]();
        } finally {
          for (const m of meshes.reverse()) await m.close();
          await server[Symbol.asyncDispose]();
        }
      },
    };
  } catch (err) {
    for (const m of meshes) await m.close();
    await server[Symbol.asyncDispose]();
    throw err;
  }
}

/**
 * Builds a larger fixture on a fresh mesh fixture: `build` starts what it needs and hands it to
 * `own()`; when `build` throws, the mesh fixture (and all it owns by then) is disposed.
 */
export async function buildOnMesh<T>(o: { server?: NatsServerOptions }, build: (mesh: MeshFixture) => Promise<T>): Promise<T> {
  const mesh = await startMeshFixture(o);
  try {
    return await build(mesh);
  } catch (err) {
    await mesh[Symbol.asyncDispose]();
    throw err;
  }
}
