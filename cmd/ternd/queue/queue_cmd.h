/* `ternd queue`: list (mailq-like), flush, hold, release, delete. */
#ifndef TERND_QUEUE_CMD_H
#define TERND_QUEUE_CMD_H

/* The subcommand: argv[0] is "queue"; state_dir is ternd's default, which
 * --state-dir DIR (before the verb) replaces. Returns a sysexits(3) status:
 * 0, 64 (usage), 65 (an ID not in the queue), 70, or 73 (cannot open). */
int ternd_queue_main(int argc, char **argv, const char *state_dir);

#endif
