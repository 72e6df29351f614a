/* output: the harness's one stdout, where every child's lines meet.
 *
 * Streams with lines ready wait in a queue; the Output takes their lines in
 * turns (a fair share each), puts a mark before each and sends them out in
 * batches with writev, pointing at the lines where they lie in the streams'
 * buffers.  A line is always written whole before another starts.  While
 * stdout cannot take more, nothing more is taken, the streams' buffers fill
 * and they stop reading.
 */
#pragma once

#include <glib.h>

#include "stream.h"

typedef struct {
  /* Every line handed out, without its newline. */
  void (*line) (gpointer data, guint child, const char *line, gsize len);
  /* stdout failed (errnum EPIPE: its reader went away); from then on lines
   * are taken and dropped. */
  void (*closed) (gpointer data, int errnum);
  /* Everything taken has been written (or dropped): output_idle(). */
  void (*idle) (gpointer data);
} OutputHooks;

/* Writes to fd (usually 1), which it may switch to non-blocking mode; see
 * output_free() for the undoing. */
Output *output_new (int fd, const OutputHooks *hooks, gpointer data);
/* Restores stdout's flags. */
void output_free (Output *output);

/* The stream has something to hand out: take it soon. */
void output_queue (Output *output, Stream *stream);
/* The stream is going away: forget it. */
void output_forget (Output *output, Stream *stream);

/* Everything taken has been written (or dropped, once closed). */
gboolean output_idle (Output *output);
gboolean output_closed (Output *output);
