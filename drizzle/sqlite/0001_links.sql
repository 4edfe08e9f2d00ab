CREATE TABLE `links` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text,
	`a` text NOT NULL,
	`b` text NOT NULL,
	`body` text NOT NULL,
	`created_at` text NOT NULL,
	`updated_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `links_name_unique` ON `links` (`name`);--> statement-breakpoint
CREATE UNIQUE INDEX `links_a_unique` ON `links` (`a`);--> statement-breakpoint
CREATE UNIQUE INDEX `links_b_unique` ON `links` (`b`);