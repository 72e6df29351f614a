/* report: the harness's own messages; see report.h. */
#include "report.h"

static gboolean quiet;
static ReportSink sink;
static gpointer sink_data;

void
report_set_quiet (gboolean q)
{
  quiet = q;
}

void
report_set_sink (ReportSink s, gpointer data)
{
  sink = s;
  sink_data = data;
}

static void
report (ReportKind kind, const char *format, va_list ap)
{
  g_autofree char *text = g_strdup_vprintf (format, ap);

  gboolean show = kind == REPORT_ERROR || !quiet;
  gboolean shown = sink != NULL && sink (sink_data, kind, show, text);
  if (show && !shown)
    g_printerr ("pipe-harness: %s\n", text);
}

void
report_event (const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  report (REPORT_EVENT, format, ap);
  va_end (ap);
}

void
report_error (const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  report (REPORT_ERROR, format, ap);
  va_end (ap);
}
