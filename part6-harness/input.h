/* input: what reaches one child's stdin.
 *
 * Bytes come from the child's input FIFO and from the script's send steps
 * and wait in a queue until the child's stdin can take them.  The queue is
 * bounded: when it is full the FIFO is not read, so writers wait in the
 * kernel and the harness never blocks on a child that does not read.  A
 * child not started yet (held), or being restarted, has no stdin: what
 * comes for it waits in the queue until a process is attached.  Before any
 * input is written, what the child printed without a newline (a prompt) is
 * handed out as a line of its own.
 *
 * A process just started has often not shown its first prompt yet: input
 * for it is held until its output has been still for INPUT_SETTLE_US (at
 * most INPUT_SETTLE_MAX_US after it started), so that the prompt is there,
 * and is cut off the answer, whatever the timing.
 */
#pragma once

#include <glib.h>

#include "fifos.h"
#include "output.h"
#include "stream.h"

#define INPUT_QUEUE_LIMIT (64 * 1024)
#define INPUT_SETTLE_US STREAM_PARTIAL_DELAY_US
#define INPUT_SETTLE_MAX_US (1000 * 1000)

typedef void (*ChildInputRoomFunc) (gpointer data, guint child);

typedef struct {
  char *name;          /* the child's, for messages */
  guint child;         /* its index */
  Output *output;      /* where what is queued is recorded */
  int stdin_fd;        /* our end of the child's stdin, non-blocking; -1:
                        * no process attached */
  gboolean stdin_is_pty; /* end-of-file is ^D, not a close */
  Stream *out, *err;   /* the attached process's output, for its prompts */
  gboolean at_line_start;  /* the last byte written was a newline */
  gboolean eof_sent;       /* on a terminal: its end-of-file character */
  gboolean eof_canonical;  /* ...sent while the terminal was canonical */
  InputFifo fifo;
  GByteArray *queue;
  guint fifo_watch;
  guint stdin_watch;
  gint64 attached_at;  /* when the process was attached */
  gboolean settling;   /* its first input is held until its output is still */
  gsize held_from;     /* what is queued from here on is not yet recorded */
  guint settle_timer;
  gboolean fifo_enabled;   /* the FIFO may be read (not during the script) */
  gboolean close_pending;  /* close stdin once the queue is written */
  gboolean closed;         /* stdin is closed: nothing more is delivered */
  guint64 dropped;         /* bytes that arrived after stdin closed */
  ChildInputRoomFunc on_room; /* once, when the queue has room again */
  gpointer on_room_data;
} ChildInput;

/* The FIFO is opened already; no process is attached yet. */
void child_input_init (ChildInput *in, guint child, const char *name, Output *output);
void child_input_clear (ChildInput *in);

/* A process of the child runs: takes ownership of stdin_fd; out and err are
 * its output streams.  Its stdin is open, whatever became of the last
 * one's, and what waits in the queue goes to it. */
void child_input_attach (ChildInput *in, int stdin_fd, gboolean stdin_is_pty,
                         Stream *out, Stream *err);
/* The process is gone: its stdin is closed and its streams forgotten.  With
 * keep (it is being restarted), input waits for the next one; otherwise
 * what arrives is dropped. */
void child_input_detach (ChildInput *in, gboolean keep);

/* Start or stop reading the FIFO. */
void child_input_enable_fifo (ChildInput *in, gboolean enable);

/* Whether the queue holds its bound or more: what is sent now waits
 * beyond it. */
gboolean child_input_full (const ChildInput *in);
/* func is called once the queue is below its bound again (or emptied
 * because stdin closed). */
void child_input_notify_room (ChildInput *in, ChildInputRoomFunc func, gpointer data);

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
