CREATE TABLE "links" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text,
	"a" text NOT NULL,
	"b" text NOT NULL,
	"node" text DEFAULT '*' NOT NULL,
	"revision" bigint DEFAULT 0 NOT NULL,
	"body" json NOT NULL,
	"created_at" timestamp (3) with time zone NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "links_name_unique" UNIQUE("name"),
	CONSTRAINT "links_node_a_unique" UNIQUE("node","a"),
	CONSTRAINT "links_node_b_unique" UNIQUE("node","b")
);
--> statement-breakpoint
ALTER TABLE "rule_status" ADD COLUMN "kind" text DEFAULT 'rule' NOT NULL;--> statement-breakpoint
CREATE INDEX "links_a" ON "links" USING btree ("a");--> statement-breakpoint
CREATE INDEX "links_b" ON "links" USING btree ("b");