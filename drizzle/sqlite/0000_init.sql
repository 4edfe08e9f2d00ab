CREATE TABLE `rules` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text,
	`input_key` text NOT NULL,
	`body` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `rules_name_unique` ON `rules` (`name`);--> statement-breakpoint
CREATE UNIQUE INDEX `rules_input_key_unique` ON `rules` (`input_key`);