CREATE TABLE `store_revision` (
	`id` integer PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
--> statement-breakpoint
DROP INDEX `rules_input_key_unique`;--> statement-breakpoint
ALTER TABLE `rules` ADD `node` text DEFAULT '*' NOT NULL;--> statement-breakpoint
ALTER TABLE `rules` ADD `revision` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `rules_node_input_key_unique` ON `rules` (`node`,`input_key`);