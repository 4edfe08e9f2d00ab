CREATE TABLE "rules" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text,
	"input_key" text NOT NULL,
	"body" json NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "rules_name_unique" UNIQUE("name"),
	CONSTRAINT "rules_input_key_unique" UNIQUE("input_key")
);
