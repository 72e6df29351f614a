/* read-from-pipe: reading a FIFO from a program, line by line.
 *
 *   read-from-pipe [PATH] [--create]
 *
 * It opens PATH (default: my_pipe in the current folder) for reading, says
 * "pipe is open" once open() has returned, then prints each line as it
 * arrives, numbered, until end-of-file.  Start it before any writer and
 * watch it wait in open(); start a writer and the lines come; when the last
 * writer closes, it sees end-of-file and stops.
 *
 * It makes the FIFO only if asked to with --create.  Exit status: 0 at
 * end-of-file, 1 when something fails, 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <locale.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  gboolean create = FALSE;
  g_autoptr (GError) error = NULL;
  const GOptionEntry entries[] = {
    { "create", 'c', 0, G_OPTION_ARG_NONE, &create, "Make PATH as a FIFO if it does not exist", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("[PATH] - print the lines read from a FIFO");

  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc > 2)
    {
      g_printerr ("read-from-pipe: %s (see --help)\n",
                  error ? error->message : "one PATH at most");
      return 2;
    }
  const char *path = argc == 2 && argv[1] != NULL ? argv[1] : "my_pipe";

  if (create && mkfifo (path, 0600) != 0 && errno != EEXIST)
    {
      g_printerr ("read-from-pipe: mkfifo %s: %s\n", path, g_strerror (errno));
      return 1;
    }
  printf ("opening %s for reading...\n", path);
  fflush (stdout);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      g_printerr ("read-from-pipe: open %s: %s%s\n", path, g_strerror (errno),
                  errno == ENOENT ? " (--create makes it a FIFO)" : "");
      return 1;
    }
  printf ("pipe is open\n");
  fflush (stdout);

  GIOChannel *channel = g_io_channel_unix_new (fd);
  g_io_channel_set_close_on_unref (channel, TRUE);
  g_io_channel_set_encoding (channel, NULL, NULL);
  char *line;
  gsize length;
  guint count = 0;
  GIOStatus status;
  while ((status = g_io_channel_read_line (channel, &line, &length, NULL, &error)) ==
         G_IO_STATUS_NORMAL)
    {
      printf ("line %u: %s", ++count, line);
      if (length == 0 || line[length - 1] != '\n')
        printf ("\n"); /* the last line had no newline */
      fflush (stdout);
      g_free (line);
    }
  g_io_channel_unref (channel);
  if (status != G_IO_STATUS_EOF)
    {
      g_printerr ("read-from-pipe: read %s: %s\n", path, error->message);
      return 1;
    }
  printf ("end of file after %u line%s\n", count, count == 1 ? "" : "s");
  return 0;
}
