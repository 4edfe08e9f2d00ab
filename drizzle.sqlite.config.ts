// drizzle-kit config for the embedded SQLite store: `npm run db:generate` writes drizzle/sqlite/.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./services/api/store/schema.sqlite.ts",
  out: "./drizzle/sqlite",
});
