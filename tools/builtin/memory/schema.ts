/**
 * The memory store's SQLite file: its pragmas, tables, FTS5 index and triggers, and the prepared
 * statements every other part of the store runs.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";

/** Lexical hits fused per search. */
export const LEXICAL_CANDIDATES = 100;

/** Opens (creating when absent) the store's file with its schema. */
export function openDatabase(path: string): DatabaseSync {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  // WAL + NORMAL: a committed transaction survives the process being killed (not a power cut's last ms).
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
  db.exec(`
    CREATE TABLE IF NOT EXISTS memories (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      user TEXT NOT NULL,
      conversation TEXT NOT NULL,
      text TEXT NOT NULL,
      significance REAL NOT NULL,
      ts INTEGER NOT NULL,
      tags TEXT NOT NULL DEFAULT '[]',
      vector BLOB,
      sketch BLOB
    );
    CREATE INDEX IF NOT EXISTS memories_user ON memories (user, significance DESC, ts DESC);
    CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5 (text, content = 'memories', content_rowid = 'id');
    CREATE TRIGGER IF NOT EXISTS memories_ai AFTER INSERT ON memories BEGIN
      INSERT INTO memories_fts (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE VIRTUAL TABLE IF NOT EXISTS memories_vocab USING fts5vocab (memories_fts, 'row');
    CREATE TRIGGER IF NOT EXISTS memories_ad AFTER DELETE ON memories BEGIN
      INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
  `);
  return db;
}

/** Every statement the store runs, prepared once per open file. */
export function prepareStatements(db: DatabaseSync) {
  const cols = "id, user, conversation, text, significance, ts, tags";
  return {
    insert: db.prepare(
      "INSERT INTO memories (user, conversation, text, significance, ts, tags, vector, sketch) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    ),
    get: db.prepare(`SELECT ${cols} FROM memories WHERE user = ? AND id = ?`),
    latest: db.prepare(`SELECT ${cols} FROM memories WHERE user = ? ORDER BY significance DESC, ts DESC LIMIT ?`),
    latestConv: db.prepare(`SELECT ${cols} FROM memories WHERE user = ? AND conversation = ? ORDER BY significance DESC, ts DESC LIMIT ?`),
    lexical: db.prepare(
      `SELECT m.id AS id FROM memories_fts f JOIN memories m ON m.id = f.rowid ` +
        `WHERE memories_fts MATCH ? AND m.user = ? ORDER BY bm25(memories_fts) LIMIT ${LEXICAL_CANDIDATES}`,
    ),
    lexicalConv: db.prepare(
      `SELECT m.id AS id FROM memories_fts f JOIN memories m ON m.id = f.rowid ` +
        `WHERE memories_fts MATCH ? AND m.user = ? AND m.conversation = ? ORDER BY bm25(memories_fts) LIMIT ${LEXICAL_CANDIDATES}`,
    ),
    vectors: db.prepare("SELECT id, vector FROM memories WHERE id IN (SELECT value FROM json_each(?))"),
    docs: db.prepare("SELECT doc FROM memories_vocab WHERE term = ?"),
    sketches: db.prepare(
      "SELECT id, conversation, length(vector) / 4 AS dims, sketch FROM memories WHERE user = ? AND sketch IS NOT NULL ORDER BY id",
    ),
    del: db.prepare("DELETE FROM memories WHERE user = ? AND id = ?"),
    count: db.prepare("SELECT count(*) AS n FROM memories"),
    countUser: db.prepare("SELECT count(*) AS n FROM memories WHERE user = ?"),
  } satisfies Record<string, StatementSync>;
}

export type Statements = ReturnType<typeof prepareStatements>;
