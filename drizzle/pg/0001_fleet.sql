CREATE TABLE "nodes" (
	"name" text PRIMARY KEY NOT NULL,
	"instance" text NOT NULL,
	"version" text NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"heartbeat_at" timestamp (3) with time zone NOT NULL,
	"interfaces" json NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rule_status" (
	"rule_id" text NOT NULL,
	"node" text NOT NULL,
	"revision" bigint NOT NULL,
	"state" text NOT NULL,
	"reason" text,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "rule_status_rule_id_node_pk" PRIMARY KEY("rule_id","node")
);
--> statement-breakpoint
CREATE TABLE "store_revision" (
	"id" integer PRIMARY KEY NOT NULL,
	"value" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "rules" DROP CONSTRAINT "rules_input_key_unique";--> statement-breakpoint
ALTER TABLE "rules" ADD COLUMN "node" text DEFAULT '*' NOT NULL;--> statement-breakpoint
ALTER TABLE "rules" ADD COLUMN "revision" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "rule_status_node" ON "rule_status" USING btree ("node");--> statement-breakpoint
ALTER TABLE "rules" ADD CONSTRAINT "rules_node_input_key_unique" UNIQUE("node","input_key");