/* console: the harness's own stdin, as a way to talk to the children.
 *
 * Each line typed as "NAME: text" goes to child NAME as "text" and a
 * newline.  A line that starts with ':' is a command for the harness (a
 * script step run at once, ":close A", ":restart server"), handed to the
 * command function; "::text" is the line ":text".  Other lines go whole to
 * the --stdin-target child, if one is set (with a warning when they look
 * like "NAME: text" for a NAME no child has),
 * else they are refused with a message.  A line goes whole to one child or
 * not at all: one longer than CONSOLE_LINE_MAX is refused with a message,
 * and its bytes dropped up to its newline.  End-of-file on stdin only stops
 * the reading: the children run on.  A stdin that is a terminal is read only
 * while we are its foreground process group.  A harness started with &
 * checks again when continued (SIGCONT, as fg sends to a stopped job) and
 * whenever new input arrives on the terminal (bash's fg of a job still
 * running sends nothing): an edge-triggered epoll, so that input left for
 * the foreground process wakes us once, not in a loop.
 */
#pragma once

#include <glib.h>

/* The longest line taken from stdin, newline not counted. */
#define CONSOLE_LINE_MAX (1024 * 1024)

/* Sends text (newline included) to child index; FALSE if it cannot. */
typedef gboolean (*ConsoleSendFunc) (gpointer data, guint child,
                                     const char *text, gsize len);
/* Runs a command typed as ":COMMAND" (given without its ':'). */
typedef void (*ConsoleCommandFunc) (gpointer data, const char *command);

typedef struct {
  int fd;
  const char *const *names;
  int target;            /* child for unmarked lines, or -1 */
  ConsoleSendFunc send;
  ConsoleCommandFunc command;
  gpointer data;
  GByteArray *line;      /* the line being read, without its newline */
  gboolean too_long;     /* it is over CONSOLE_LINE_MAX: dropped up to its newline */
  guint watch;
  int background_epoll;  /* stdin, edge-triggered, while in the background */
  guint background_watch;
  gboolean started;
  gboolean finished;     /* end-of-file or an error */
} Console;

void console_init (Console *console, int fd, const char *const *names,
                   int target, ConsoleSendFunc send, ConsoleCommandFunc command,
                   gpointer data);
/* Starts reading (not before the script is done). */
void console_start (Console *console);
/* After SIGCONT: reads a terminal only while in its foreground. */
void console_check_foreground (Console *console);
void console_clear (Console *console);
