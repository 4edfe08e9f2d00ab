CREATE TABLE `links` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text,
	`a` text NOT NULL,
	`b` text NOT NULL,
	`node` text DEFAULT '*' NOT NULL,
	`revision` integer DEFAULT 0 NOT NULL,
	`body` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `links_name_unique` ON `links` (`name`);--> statement-breakpoint
CREATE INDEX `links_a` ON `links` (`a`);--> statement-breakpoint
CREATE INDEX `links_b` ON `links` (`b`);--> statement-breakpoint
CREATE UNIQUE INDEX `links_node_a_unique` ON `links` (`node`,`a`);--> statement-breakpoint
CREATE UNIQUE INDEX `links_node_b_unique` ON `links` (`node`,`b`);