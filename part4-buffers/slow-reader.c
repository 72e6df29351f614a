/* slow-reader: the reader's buffer and the reader's own stdout buffer, the
 * third and fourth places where data can wait on its way through a pipe.
 *
 *   slow-reader PATH [--mode line|char] [--no-flush]
 *
 * It opens PATH for reading (a FIFO: the open waits for a writer) and
 * copies what it reads to stdout until end-of-file.
 *
 *   --mode line (the default) reads whole lines from a buffered GIOChannel
 *     (g_io_channel_read_line): bytes that have arrived wait in the
 *     channel's buffer until their newline comes, so nothing of a line
 *     shows before its end;
 *   --mode char reads one byte at a time from an unbuffered channel and
 *     shows each at once.
 *
 * Either way it calls fflush (stdout) after each piece it prints, unless
 * --no-flush is given: then what it prints stays in stdio's buffer, which
 * stdio makes a full 4096-byte buffer when stdout is a pipe or a file (on
 * a terminal, stdio flushes at every newline by itself).
 *
 * Run it:  slow-reader /tmp/lab.fifo --mode char --no-flush | cat
 *          with slow-writer /tmp/lab.fifo --buffering none in another terminal.
 * Look for: every byte reached slow-reader at once, yet cat shows nothing
 * until slow-reader exits.  Without --no-flush the bytes flow.
 *
 * Exit status: 0 at end-of-file, 1 when something fails (PATH missing, a
 * read or a write that fails), 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Prints what was read, then flushes it out of stdio unless told not to. */
static gboolean
show (const char *data, gsize length, gboolean flush)
{
  if (fwrite (data, 1, length, stdout) != length || (flush && fflush (stdout) != 0))
    {
      g_printerr ("slow-reader: write to stdout: %s\n", g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *mode = NULL;
  gboolean no_flush = FALSE;
  g_autoptr (GError) error = NULL;
  const GOptionEntry entries[] = {
    { "mode", 'm', 0, G_OPTION_ARG_STRING, &mode, "line (default): whole lines; char: byte by byte", "MODE" },
    { "no-flush", 'n', 0, G_OPTION_ARG_NONE, &no_flush, "Leave stdout to stdio's buffering", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("PATH - show what arrives, by line or by character");

  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("slow-reader: %s (see --help)\n", error->message);
      return 2;
    }
  gboolean by_char = mode != NULL && strcmp (mode, "char") == 0;
  if (argc != 2 || (mode != NULL && !by_char && strcmp (mode, "line") != 0))
    {
      g_printerr ("slow-reader: %s\n", argc != 2 ? "expected one PATH (see --help)"
                                                 : "--mode must be line or char");
      return 2;
    }
  const char *path = argv[1];

  g_printerr ("slow-reader: opening %s (a FIFO waits for a writer)\n", path);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      g_printerr ("slow-reader: open %s: %s\n", path, g_strerror (errno));
      return 1;
    }
  g_printerr ("slow-reader: open; reading %s\n", by_char ? "byte by byte" : "line by line");
  g_autoptr (GIOChannel) channel = g_io_channel_unix_new (fd);
  g_io_channel_set_close_on_unref (channel, TRUE);
  g_io_channel_set_encoding (channel, NULL, NULL); /* bytes, not UTF-8 text */
  if (by_char)
    g_io_channel_set_buffered (channel, FALSE);

  GIOStatus status;
  gboolean shown = TRUE;
  do
    {
      char c;
      g_autofree char *line = NULL;
      gsize length = 0;
      if (by_char)
        status = g_io_channel_read_chars (channel, &c, 1, &length, &error);
      else
        status = g_io_channel_read_line (channel, &line, &length, NULL, &error);
      if (status == G_IO_STATUS_NORMAL)
        shown = show (by_char ? &c : line, length, !no_flush);
    }
  while (status == G_IO_STATUS_NORMAL && shown);

  if (!shown)
    return 1;
  if (status != G_IO_STATUS_EOF)
    {
      g_printerr ("slow-reader: read %s: %s\n", path, error->message);
      return 1;
    }
  g_printerr ("slow-reader: end-of-file: the last writer closed %s\n", path);
  return show ("", 0, TRUE) ? 0 : 1;
}
