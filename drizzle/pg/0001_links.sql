CREATE TABLE "links" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text,
	"a" text NOT NULL,
	"b" text NOT NULL,
	"body" json NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "links_name_unique" UNIQUE("name"),
	CONSTRAINT "links_a_unique" UNIQUE("a"),
	CONSTRAINT "links_b_unique" UNIQUE("b")
);
