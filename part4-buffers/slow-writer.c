/* slow-writer: the writer's buffer, the first of four places where data
 * can wait on its way through a pipe.
 *
 *   slow-writer PATH [--message TEXT] [--delay-ms N] [--buffering MODE]
 *
 * It opens PATH for writing (a FIFO: the open waits for a reader), then
 * writes TEXT one character every N ms (default 1000) into a GIOChannel,
 * and says on stderr what became of each character: sent straight into
 * the pipe, or held in the channel's buffer.  MODE decides when the buffer
 * is emptied into the pipe:
 *
 *   none   no buffer at all: each character reaches the pipe when written
 *   line   at every newline (or when 4096 bytes wait)
 *   full   when 4096 bytes wait (what C's stdio does on a pipe), or at the end
 *   N      when N bytes wait, or at the end: the pipe gets chunks of N
 *
 * The channel is made unbuffered for "none" (g_io_channel_set_buffered);
 * otherwise its buffer is made a little larger than the largest chunk, so
 * that GLib never empties it by itself, and every g_io_channel_flush() the
 * program makes is one that the rule above asks for.
 *
 * Run it:  mkfifo /tmp/lab.fifo
 *          slow-reader /tmp/lab.fifo --mode char      (terminal 1)
 *          slow-writer /tmp/lab.fifo --buffering line (terminal 2)
 * Look for: terminal 1 shows nothing while terminal 2 says "held", and
 * shows everything that was held at the moment terminal 2 says "flushed".
 *
 * Exit status: 0 when all was written, 1 when something fails (PATH
 * missing, the reader gone), 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <locale.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* What C's stdio gives a pipe: its st_blksize, one page. */
#define FULL_BUFFER 4096

typedef struct {
  GIOChannel *channel;  /* the writing end of PATH; owned */
  const char *path;
  const char *text;
  gsize next;           /* index in text of the next character to send */
  gboolean unbuffered;  /* --buffering none */
  gboolean at_newline;  /* --buffering line: also flush after each newline */
  gsize flush_size;     /* flush when this many bytes are held */
  gsize held;           /* bytes written to the channel, not yet flushed */
  gint64 start_us;      /* when the open returned */
  GMainLoop *loop;
  int status;
} Writer;

static double
seconds_since_start (Writer *w)
{
  return (g_get_monotonic_time () - w->start_us) / 1e6;
}

static const char *
bytes (gsize n)
{
  return n == 1 ? "byte" : "bytes";
}

/* Empties the channel's buffer into the pipe: one write(). */
static gboolean
flush_held (Writer *w, const char *why, GError **error)
{
  if (w->held == 0)
    return TRUE;
  if (g_io_channel_flush (w->channel, error) != G_IO_STATUS_NORMAL)
    return FALSE;
  g_printerr ("slow-writer: %6.2f s  flushed %zu %s into the pipe (%s)\n",
              seconds_since_start (w), w->held, bytes (w->held), why);
  w->held = 0;
  return TRUE;
}

static void
stop (Writer *w, const char *what, GError *error)
{
  g_printerr ("slow-writer: %s %s: %s\n", what, w->path, error->message);
  w->status = 1;
  g_main_loop_quit (w->loop);
}

/* Writes the last of the buffer, closes, and ends the main loop. */
static void
finish (Writer *w)
{
  g_autoptr (GError) error = NULL;

  if (!flush_held (w, "closing", &error))
    stop (w, "write to", error);
  else if (g_io_channel_shutdown (w->channel, TRUE, &error) != G_IO_STATUS_NORMAL)
    stop (w, "close", error);
  else
    {
      g_printerr ("slow-writer: %6.2f s  closed %s\n", seconds_since_start (w), w->path);
      g_main_loop_quit (w->loop);
    }
}

static gboolean
on_tick (gpointer data)
{
  Writer *w = data;
  g_autoptr (GError) error = NULL;
  char c = w->text[w->next++];
  g_autofree char *shown = g_strescape ((char[]) { c, '\0' }, NULL);

  if (g_io_channel_write_chars (w->channel, &c, 1, NULL, &error) != G_IO_STATUS_NORMAL)
    {
      stop (w, "write to", error);
      return G_SOURCE_REMOVE;
    }
  if (w->unbuffered)
    g_printerr ("slow-writer: %6.2f s  sent '%s' straight into the pipe\n",
                seconds_since_start (w), shown);
  else
    {
      w->held++;
      g_printerr ("slow-writer: %6.2f s  sent '%s', held in the buffer (%zu %s waiting)\n",
                  seconds_since_start (w), shown, w->held, bytes (w->held));
    }

  gboolean flushed = TRUE;
  if (w->at_newline && c == '\n')
    flushed = flush_held (w, "a newline", &error);
  else if (w->held == w->flush_size)
    flushed = flush_held (w, "the buffer is full", &error);
  if (!flushed)
    {
      stop (w, "write to", error);
      return G_SOURCE_REMOVE;
    }

  if (w->text[w->next] != '\0')
    return G_SOURCE_CONTINUE;
  finish (w);
  return G_SOURCE_REMOVE;
}

/* none, line, full or a number of bytes. */
static gboolean
parse_buffering (const char *mode, Writer *w)
{
  guint64 size = FULL_BUFFER;

  if (strcmp (mode, "none") == 0)
    w->unbuffered = TRUE;
  else if (strcmp (mode, "line") == 0)
    w->at_newline = TRUE;
  else if (strcmp (mode, "full") != 0 &&
           !g_ascii_string_to_unsigned (mode, 10, 1, 1 << 20, &size, NULL))
    return FALSE;
  w->flush_size = size;
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *message = NULL;
  g_autofree char *buffering = NULL;
  int delay_ms = 1000;
  g_autoptr (GError) error = NULL;
  Writer w = { 0 };
  const GOptionEntry entries[] = {
    { "message", 'm', 0, G_OPTION_ARG_STRING, &message, "What to write (default: three short lines)", "TEXT" },
    { "delay-ms", 'd', 0, G_OPTION_ARG_INT, &delay_ms, "Milliseconds between characters (default 1000)", "N" },
    { "buffering", 'b', 0, G_OPTION_ARG_STRING, &buffering, "none, line, full (default) or a size in bytes", "MODE" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("PATH - write slowly, one character at a time");

  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("slow-writer: %s (see --help)\n", error->message);
      return 2;
    }
  const char *problem = NULL;
  if (argc != 2)
    problem = "expected one PATH (see --help)";
  else if (delay_ms < 0)
    problem = "--delay-ms must not be negative";
  else if (!parse_buffering (buffering ? buffering : "full", &w))
    problem = "--buffering must be none, line, full or a number of bytes from 1 to 1048576";
  else if (message != NULL && *message == '\0')
    problem = "--message must not be empty";
  if (problem != NULL)
    {
      g_printerr ("slow-writer: %s\n", problem);
      return 2;
    }
  w.path = argv[1];
  w.text = message ? message : "one\ntwo\nthree\n";

  /* A reader that goes away makes write() fail with EPIPE, which we report,
   * instead of killing us with SIGPIPE. */
  signal (SIGPIPE, SIG_IGN);
  g_printerr ("slow-writer: opening %s (a FIFO waits for a reader)\n", w.path);
  int fd = open (w.path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    {
      g_printerr ("slow-writer: open %s: %s\n", w.path, g_strerror (errno));
      return 1;
    }
  w.start_us = g_get_monotonic_time ();
  g_printerr ("slow-writer: open; one character every %d ms, buffering %s\n", delay_ms,
              buffering ? buffering : "full");

  w.channel = g_io_channel_unix_new (fd);
  g_io_channel_set_close_on_unref (w.channel, TRUE);
  g_io_channel_set_encoding (w.channel, NULL, NULL); /* bytes, not UTF-8 text */
  if (w.unbuffered)
    g_io_channel_set_buffered (w.channel, FALSE);
  else
    g_io_channel_set_buffer_size (w.channel, w.flush_size + 64);

  w.loop = g_main_loop_new (NULL, FALSE);
  g_timeout_add (delay_ms, on_tick, &w);
  g_main_loop_run (w.loop);
  g_main_loop_unref (w.loop);
  g_io_channel_unref (w.channel);
  return w.status;
}
