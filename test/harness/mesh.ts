/**
 * The set-up most mesh tests share: a nats-server of their own and two connections to it, one for
 * the agent side (responders) and one for the caller, so traffic crosses the server as in
 * production. One disposal closes the connections and then the server.
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
}

/** Starts the server (JetStream off unless `server` says otherwise) and connects agent and caller. */
export async function startMeshFixture(o: { server?: NatsServerOptions } = {}): Promise<MeshFixture> {
  const server = await startNatsServer({ jetstream: false, ...o.server });
  const meshes: Mesh[] = [];
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
      async [Symbol.asyncDispose]() {
        if (disposed) return;
        disposed = true;
        for (const m of meshes.reverse()) await m.close();
        await server[Symbol.asyncDispose]();
      },
    };
  } catch (err) {
    for (const m of meshes) await m.close();
    await server[Symbol.asyncDispose]();
    throw err;
  }
}
