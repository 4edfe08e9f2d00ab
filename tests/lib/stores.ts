// Store tests run against each backend the relay can use: embedded SQLite (a temp dir) and a real
// PostgreSQL server (tests/lib/postgres.ts), the same test bodies for both.
import { afterAll, afterEach, beforeAll, describe } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type RuleStore } from "../../services/api/store/index.ts";
import { startPostgres, type TestPostgres } from "./postgres.ts";

export interface StoreContext {
  kind: "sqlite" | "postgres";
  /** A store on a fresh, empty place. */
  fresh(): Promise<RuleStore>;
  /** Another store on the place of the last fresh() (a second connection, or a reopen). */
  open(): Promise<RuleStore>;
  /** Closes a store now (every store is closed after each test anyway). */
  close(s: RuleStore): Promise<void>;
}

interface Place {
  open(): Promise<RuleStore>;
}

function suiteOn(title: string, kind: StoreContext["kind"], backend: { fresh(): Promise<Place>; setUp?(): Promise<void>; tearDown?(): Promise<void> }, body: (ctx: StoreContext) => void) {
  describe(`${title} (${kind})`, () => {
    if (backend.setUp) beforeAll(backend.setUp, 60_000);
    if (backend.tearDown) afterAll(backend.tearDown);
    const opened: RuleStore[] = [];
    let place: Place | undefined;
    const open = async () => {
      if (!place) throw new Error("fresh() first");
      const st = await place.open();
      opened.push(st);
      return st;
    };
    afterEach(async () => {
      for (const st of opened.splice(0)) await st.close();
    });
    body({
      kind,
      fresh: async () => {
        place = await backend.fresh();
        return open();
      },
      open,
      close: async (s) => {
        opened.splice(opened.indexOf(s), 1);
        await s.close();
      },
    });
  });
}

/** Declares `body`'s tests once per backend. */
export function storeSuite(title: string, body: (ctx: StoreContext) => void): void {
  const tempDirs: string[] = [];
  suiteOn(title, "sqlite", {
    fresh: async () => {
      const dir = mkdtempSync(join(tmpdir(), "mcrelay-store-"));
      tempDirs.push(dir);
      const stateDir = join(dir, "state"); // openStore creates it
      return { open: () => openStore({ stateDir }) };
    },
    tearDown: async () => {
      for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
    },
  }, body);

  let pg: TestPostgres | undefined;
  let dbs = 0;
  suiteOn(title, "postgres", {
    setUp: async () => {
      pg = await startPostgres();
    },
    tearDown: async () => {
      await pg?.stop();
    },
    fresh: async () => {
      if (!pg) throw new Error("PostgreSQL did not start");
      const url = await pg.createDatabase(`store_${++dbs}`);
      return { open: () => openStore({ databaseUrl: url, stateDir: "/nonexistent/unused" }) };
    },
  }, body);
}
