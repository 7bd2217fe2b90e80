/** The memory store on its own: hybrid ranking, scoping, forgetting, reopening, and the sketch prefilter. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openMemoryStore, type MemoryStore } from "../../../tools/builtin/memory/store.ts";
import { normalize, popcount, sketch } from "../../../tools/builtin/memory/vectors.ts";
import { embedText } from "../../doubles/ollama.ts";

const vec = (t: string) => Float32Array.from(embedText(t));
let store: MemoryStore | undefined;
let dir: string | undefined;
afterEach(() => {
  store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  store = dir = undefined;
});
const add = (s: MemoryStore, user: string, text: string, conversation = "c1") =>
  s.add({ user, conversation, text, significance: 0.5, vector: vec(text) });

describe("memory store", () => {
  it("ranks a vector-only match and a lexical-only match, and needs neither to be both", () => {
    store = openMemoryStore(":memory:");
    const puppy = add(store, "u", "my puppy sleeps all day");
    const orchid = add(store, "u", "the zygomorphic orchid bloomed");
    const canine = store.search({ user: "u", text: "canine", vector: vec("canine"), limit: 5 });
    expect(canine[0]).toMatchObject({ id: puppy.id, vectorRank: 1 });
    expect(canine[0]!.lexicalRank).toBeUndefined();
    const rare = store.search({ user: "u", text: "zygomorphic", limit: 5 });
    expect(rare.map((h) => h.id)).toEqual([orchid.id]);
    expect(store.search({ user: "u", text: 'NEAR("a" b) OR * -', limit: 5 })).toEqual([]);
  });

  it("scopes by user and conversation, forgets, and keeps everything across a reopen", () => {
    dir = mkdtempSync(join(tmpdir(), "lyra-memstore-"));
    const path = join(dir, "m.db");
    store = openMemoryStore(path);
    const a = add(store, "alice", "the vault code is 4242");
    add(store, "alice", "the vault is in the basement", "c2");
    add(store, "bob", "the vault code is 9999");
    const q = (user: string, conversation?: string) =>
      store!.search({ user, conversation, text: "vault code", vector: vec("vault code"), limit: 10 }).map((h) => h.text);
    expect(q("bob")).toEqual(["the vault code is 9999"]);
    expect(q("alice", "c2")).toEqual(["the vault is in the basement"]);
    expect(store.forget("bob", a.id)).toBe(false);
    expect(store.forget("alice", a.id)).toBe(true);
    expect(q("alice")).toEqual(["the vault is in the basement"]);
    store.close();
    store = openMemoryStore(path);
    expect(store.count()).toBe(2);
    expect(q("alice")).toEqual(["the vault is in the basement"]);
    expect(store.get("alice", [a.id])).toEqual([]);
  });

  it("sketches are deterministic and near for near vectors", () => {
    const s1 = sketch(normalize(vec("dog park morning walk")));
    const s2 = sketch(normalize(vec("puppy park morning walk")));
    const s3 = sketch(normalize(vec("quantum chromodynamics lecture notes")));
    const ham = (x: Int32Array, y: Int32Array) => x.reduce((n, w, i) => n + popcount(w ^ y[i]!), 0);
    expect(ham(s1, sketch(normalize(vec("dog park morning walk"))))).toBe(0);
    expect(ham(s1, s2)).toBe(0); // "puppy" and "dog" are one concept in the double
    expect(ham(s1, s3)).toBeGreaterThan(20);
  });

  it("compares only vectors of the query's model: entries of another embedding model never crowd its own out", () => {
    store = openMemoryStore(":memory:");
    // 2,000 entries embedded by an earlier model (768 dims), then one by the current one (384), only
    // loosely like the query: its sketch is 68 bits off, and most old sketches are nearer by chance.
    const wave = (length: number, f: (k: number) => number) => Float32Array.from({ length }, (_, k) => f(k));
    store.addMany(
      Array.from({ length: 2000 }, (_, i) => ({
        user: "u",
        conversation: "c1",
        text: `old entry ${i}`,
        significance: 0.5,
        vector: wave(768, (k) => Math.sin(i * 7.1 + k * k * 0.37)),
      })),
    );
    const query = wave(384, (k) => Math.sin(k * 1.3));
    const loose = store.add({
      user: "u",
      conversation: "c1",
      text: "the current model's entry",
      significance: 0.5,
      vector: wave(384, (k) => 0.15 * query[k]! + Math.sin(k * k * 0.71 + 1)),
    });
    const hits = store.search({ user: "u", text: "nothing lexical", vector: query, limit: 5 });
    expect(hits.map((h) => h.id)).toEqual([loose.id]);
  });
});
