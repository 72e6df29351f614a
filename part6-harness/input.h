/* input: what reaches one child's stdin.
 *
 * Bytes come from the child's input FIFO and from the script's send steps
 * and wait in a queue until the child's stdin can take them.  The queue is
 * bounded: when it is full the FIFO is not read, so writers wait in the
 * kernel and the harness never blocks on a child that does not read.
 */
#pragma once

#include <glib.h>

#include "fifos.h"
#include "output.h"

#define INPUT_QUEUE_LIMIT (64 * 1024)

typedef struct {
  char *name;          /* the child's, for messages */
  Output *output;      /* where what is queued is recorded */
  int stdin_fd;        /* our end of the child's stdin, non-blocking */
  gboolean stdin_is_pty; /* end-of-file is ^D, not a close */
  gboolean at_line_start;  /* the last byte written was a newline */
  gboolean eof_sent;       /* on a terminal: its end-of-file character */
  gboolean eof_canonical;  /* ...sent while the terminal was canonical */
  InputFifo fifo;
  GByteArray *queue;
  guint fifo_watch;
  guint stdin_watch;
  gboolean fifo_enabled;   /* the FIFO may be read (not during the script) */
  gboolean close_pending;  /* close stdin once the queue is written */
  gboolean closed;         /* stdin is closed: nothing more is delivered */
  guint64 dropped;         /* bytes that arrived after stdin closed */
} ChildInput;

/* Takes ownership of stdin_fd; the FIFO is opened already. */
void child_input_init (ChildInput *in, const char *name, int stdin_fd,
                       gboolean stdin_is_pty, Output *output);
void child_input_clear (ChildInput *in);

/* Start or stop reading the FIFO. */
void child_input_enable_fifo (ChildInput *in, gboolean enable);

/* Queue bytes for the child; FALSE if its stdin is closed. */
gboolean child_input_send (ChildInput *in, const char *data, gsize len,
                           GError **error);

/* End-of-file on the child's stdin after what is queued.  On a terminal,
 * its end-of-file character: at a line start if the terminal is in
 * canonical mode (twice after an unfinished line: the first only ends the
 * line), once if not, where programs such as readline take it as
 * end-of-file themselves. */
void child_input_close (ChildInput *in);

/* The child wrote to its terminal.  A program that changed its terminal's
 * mode after the end-of-file character was sent, before reading it (as
 * readline programs do as they start), read it as something else; it is
 * sent again once the output shows the program went on. */
void child_input_terminal_output (ChildInput *in);
