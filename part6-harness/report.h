/* report: the harness's own messages, "pipe-harness: …" lines on stderr.
 *
 * Events (a child started, exited, was killed; where its FIFO is) can be
 * silenced with --quiet; errors and warnings always show.  A sink set by
 * the output formats receives every message too, to put it in a log or in
 * the JSON stream.
 */
#pragma once

#include <glib.h>

typedef enum {
  REPORT_EVENT,
  REPORT_ERROR,
} ReportKind;

/* show: whether the message is to be shown (not an event under --quiet);
 * returns whether the sink showed it itself (in order with the children's
 * lines), so that it is not printed on stderr too. */
typedef gboolean (*ReportSink) (gpointer data, ReportKind kind, gboolean show,
                                const char *text);

void report_set_quiet (gboolean quiet);
void report_set_sink (ReportSink sink, gpointer data);

void report_event (const char *format, ...) G_GNUC_PRINTF (1, 2);
void report_error (const char *format, ...) G_GNUC_PRINTF (1, 2);
