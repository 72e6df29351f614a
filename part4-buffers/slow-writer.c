/* slow-writer: the writer's buffer, the first place data can hide.
 *
 *   slow-writer PATH [--message TEXT] [--delay-ms N] [--buffering MODE]
 *
 * It writes TEXT one character every N ms (default 1000) into a GIOChannel
 * on PATH, and says on stderr what each character did.  MODE decides when
 * the channel's buffer is flushed into the pipe:
 *
 *   none   no buffer: every character reaches the pipe at once
 *   line   flushed at every newline
 *   full   flushed only when the writer closes (or the buffer fills)
 *   N      flushed every N bytes
 *
 * Run "slow-reader PATH --mode char" in a second terminal and watch the
 * characters arrive one by one, a line at a time, all at the end, or in
 * chunks.  These are the modes of C's setvbuf() (_IONBF, _IOLBF, _IOFBF),
 * written out here as explicit g_io_channel_flush() calls.
 *
 * Exit status: 0 when all was written, 1 when something fails, 2 for bad
 * usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <locale.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum { BUFFER_NONE, BUFFER_LINE, BUFFER_FULL, BUFFER_CHUNK } Buffering;

typedef struct {
  GIOChannel *channel;
  const char *text;
  gsize pos;
  Buffering buffering;
  guint64 chunk;     /* BUFFER_CHUNK: bytes per flush */
  gsize buffered;    /* bytes written since the last flush */
  GMainLoop *loop;
  int status;
} Writer;

static gboolean
fail (Writer *w, const char *what, GError *error)
{
  g_printerr ("slow-writer: %s: %s\n", what, error->message);
  w->status = 1;
  g_main_loop_quit (w->loop);
  return G_SOURCE_REMOVE;
}

static const char *
shown (char c, char out[8])
{
  if (c == '\n')
    return "\\n";
  g_snprintf (out, 8, "%c", c);
  return out;
}

static gboolean
flush (Writer *w, GError **error)
{
  if (g_io_channel_flush (w->channel, error) != G_IO_STATUS_NORMAL)
    return FALSE;
  g_printerr ("slow-writer:   flushed %zu byte%s into the pipe\n", w->buffered,
              w->buffered == 1 ? "" : "s");
  w->buffered = 0;
  return TRUE;
}

static gboolean
on_tick (gpointer data)
{
  Writer *w = data;
  g_autoptr (GError) error = NULL;
  char c = w->text[w->pos++];
  char text[8];

  if (g_io_channel_write_chars (w->channel, &c, 1, NULL, &error) != G_IO_STATUS_NORMAL)
    return fail (w, "write", error);
  w->buffered++;
  if (w->buffering == BUFFER_NONE)
    {
      w->buffered = 0;
      g_printerr ("slow-writer: sent '%s' (straight into the pipe)\n", shown (c, text));
    }
  else
    g_printerr ("slow-writer: sent '%s' (into the buffer: %zu byte%s there)\n",
                shown (c, text), w->buffered, w->buffered == 1 ? "" : "s");

  if (((w->buffering == BUFFER_LINE && c == '\n') ||
       (w->buffering == BUFFER_CHUNK && w->buffered == w->chunk)) &&
      !flush (w, &error))
    return fail (w, "flush", error);

  if (w->text[w->pos] != '\0')
    return G_SOURCE_CONTINUE;
  /* Closing flushes whatever is left. */
  if (w->buffered > 0 && !flush (w, &error))
    return fail (w, "flush", error);
  g_printerr ("slow-writer: done; closing\n");
  g_main_loop_quit (w->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
parse_buffering (const char *text, Writer *w)
{
  if (text == NULL || strcmp (text, "full") == 0)
    w->buffering = BUFFER_FULL; /* what C's stdio does when writing to a pipe */
  else if (strcmp (text, "none") == 0)
    w->buffering = BUFFER_NONE;
  else if (strcmp (text, "line") == 0)
    w->buffering = BUFFER_LINE;
  else if (g_ascii_string_to_unsigned (text, 10, 1, 1 << 20, &w->chunk, NULL))
    w->buffering = BUFFER_CHUNK;
  else
    return FALSE;
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
    { "buffering", 'b', 0, G_OPTION_ARG_STRING, &buffering, "none, line, full (default), or a size in bytes", "MODE" },
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
  if (argc != 2 || delay_ms < 0 || !parse_buffering (buffering, &w))
    {
      g_printerr ("slow-writer: %s\n",
                  argc != 2 ? "usage: slow-writer PATH [OPTION…] (see --help)"
                  : delay_ms < 0 ? "--delay-ms must not be negative"
                                 : "--buffering: none, line, full or a number of bytes");
      return 2;
    }
  w.text = message ? message : "one\ntwo\nthree\n";
  if (*w.text == '\0')
    {
      g_printerr ("slow-writer: --message is empty\n");
      return 2;
    }

  struct stat st;
  if (stat (argv[1], &st) != 0)
    {
      g_printerr ("slow-writer: %s: %s\n", argv[1], g_strerror (errno));
      return 1;
    }
  g_printerr ("slow-writer: opening %s (waits for a reader)\n", argv[1]);
  int fd = open (argv[1], O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    {
      g_printerr ("slow-writer: open %s: %s\n", argv[1], g_strerror (errno));
      return 1;
    }
  w.channel = g_io_channel_unix_new (fd);
  g_io_channel_set_close_on_unref (w.channel, TRUE);
  g_io_channel_set_encoding (w.channel, NULL, NULL);
  if (w.buffering == BUFFER_NONE)
    g_io_channel_set_buffered (w.channel, FALSE);
  else
    g_io_channel_set_buffer_size (w.channel, 64 * 1024); /* we decide when to flush */

  w.loop = g_main_loop_new (NULL, FALSE);
  g_timeout_add (delay_ms, on_tick, &w);
  g_main_loop_run (w.loop);
  g_main_loop_unref (w.loop);
  g_io_channel_unref (w.channel);
  return w.status;
}
