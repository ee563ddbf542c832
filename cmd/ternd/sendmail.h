/* `ternd sendmail` and the `sendmail` name (sendmail.c). */
#ifndef TERND_SENDMAIL_H
#define TERND_SENDMAIL_H

/* argv[0] is "sendmail" (or the subcommand's name). Returns a sysexits(3)
 * status. */
int ternd_sendmail_main(int argc, char **argv);

#endif
