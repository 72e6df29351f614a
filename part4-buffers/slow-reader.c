/* slow-reader: the reader's buffer and the reader's own stdout buffer, the
 * third and fourth places data can hide.
 *
 *   slow-reader PATH [--mode line|char] [--no-flush]
 *
 * line (the default) reads whole lines through a buffered GIOChannel:
 * bytes that have arrived wait in the channel's buffer until their newline
 * comes, so nothing shows before it.  char reads one byte at a time from
 * an unbuffered channel and shows each at once.  Either way it calls
 * fflush(stdout) after each print, unless --no-flush: then what it prints
 * stays in stdio's buffer, which is a full 4 KiB buffer when stdout is a
 * pipe or a file (try "slow-reader PATH --mode char --no-flush | cat").
 *
 * Exit status: 0 at end-of-file, 1 when something fails, 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  g_autofree char *mode = NULL;
  gboolean no_flush = FALSE;
  g_autoptr (GError) error = NULL;
  const GOptionEntry entries[] = {
    { "mode", 'm', 0, G_OPTION_ARG_STRING, &mode, "line (default) or char", "MODE" },
    { "no-flush", 0, 0, G_OPTION_ARG_NONE, &no_flush, "Do not flush stdout after each print", NULL },
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
      g_printerr ("slow-reader: %s\n", argc != 2 ? "usage: slow-reader PATH [OPTION…] (see --help)"
                                                 : "--mode: line or char");
      return 2;
    }

  g_printerr ("slow-reader: opening %s (waits for a writer)\n", argv[1]);
  int fd = open (argv[1], O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      g_printerr ("slow-reader: open %s: %s\n", argv[1], g_strerror (errno));
      return 1;
    }
  GIOChannel *channel = g_io_channel_unix_new (fd);
  g_io_channel_set_close_on_unref (channel, TRUE);
  g_io_channel_set_encoding (channel, NULL, NULL);
  if (by_char)
    g_io_channel_set_buffered (channel, FALSE);

  GIOStatus status;
  do
    {
      char c;
      char *line = NULL;
      gsize n = 0;
      if (by_char)
        status = g_io_channel_read_chars (channel, &c, 1, &n, &error);
      else
        status = g_io_channel_read_line (channel, &line, &n, NULL, &error);
      if (status == G_IO_STATUS_NORMAL)
        {
          fwrite (by_char ? &c : line, 1, n, stdout);
          if (!no_flush)
            fflush (stdout);
        }
      g_free (line);
    }
  while (status == G_IO_STATUS_NORMAL || status == G_IO_STATUS_AGAIN);
  g_io_channel_unref (channel);

  if (status != G_IO_STATUS_EOF)
    {
      g_printerr ("slow-reader: read %s: %s\n", argv[1], error->message);
      return 1;
    }
  g_printerr ("slow-reader: end-of-file\n");
  return 0;
}
