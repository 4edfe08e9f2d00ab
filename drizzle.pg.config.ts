// drizzle-kit config for the PostgreSQL store: `npm run db:generate` writes drizzle/pg/.
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./services/api/store/schema.pg.ts",
  out: "./drizzle/pg",
});
