/* output: the harness's one stdout, where every child's lines meet, and the
 * --log transcript.
 *
 * Streams with lines ready wait in a queue; the Output takes their lines in
 * turns (a fair share each), puts a mark before each ("A: ", "A! ", with a
 * time and colour if asked, or the whole line as a JSON object) and sends
 * them out in batches with writev, pointing at the lines where they lie in
 * the streams' buffers.  A line is always written whole before another
 * starts.  While stdout cannot take more, nothing more is taken, the
 * streams' buffers fill and they stop reading.
 *
 * The log receives the same lines with plain marks, plus every input sent
 * to a child ("A< text") and the harness's own messages; with --json those
 * two go to stdout too, as "input" and "event" records.
 */
#pragma once

#include <glib.h>

#include "stream.h"

typedef struct Output Output;

typedef struct {
  gboolean timestamps;
  gboolean color;
  gboolean json;
  gboolean merge_stderr;
  int log_fd;           /* -1: no log; owned by the Output */
} OutputFormat;

typedef struct {
  /* Every line handed out, without its newline. */
  void (*line) (gpointer data, guint child, const char *line, gsize len);
  /* stdout failed (errnum EPIPE: its reader went away); from then on lines
   * are taken and dropped. */
  void (*closed) (gpointer data, int errnum);
  /* Everything taken has been written (or dropped): output_idle(). */
  void (*idle) (gpointer data);
} OutputHooks;

/* Writes to fd (usually 1), whose flags it leaves alone: where it needs
 * writes that do not wait, it opens a description of its own. */
Output *output_new (int fd, const OutputFormat *format,
                    const OutputHooks *hooks, gpointer data);
void output_free (Output *output);

/* What precedes each line of this child's stream on stdout. */
char *output_mark (Output *output, guint child, const char *name, StreamKind kind);

/* Where the streams whose lines it writes send them. */
StreamSink *output_sink (Output *output);

/* Bytes sent to child name's stdin, for the log and the JSON stream. */
void output_input (Output *output, const char *name, const char *data, gsize len);
/* A message of the harness's own, for the log and the JSON stream; when
 * stdout and stderr are one file (2>&1), also shown (if show) in its place
 * among the children's lines: returns whether it was. */
gboolean output_event (Output *output, const char *text, gboolean show);
/* Messages from now on are not shown among the lines (the run is over). */
void output_stop_showing_events (Output *output);

/* Whether the line hook is called (only while a script runs: it costs a
 * call per line). */
void output_watch_lines (Output *output, gboolean watch);

/* Everything taken has been written (or dropped, once closed). */
gboolean output_idle (Output *output);
gboolean output_closed (Output *output);
