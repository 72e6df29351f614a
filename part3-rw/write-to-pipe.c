/* write-to-pipe: writing to a FIFO from a program is writing to a file.
 *
 *   write-to-pipe [PATH] [--message TEXT] [--create]
 *
 * It opens PATH (default: my_pipe in the current folder) for writing, says
 * "pipe is open" once open() has returned, writes TEXT and a newline
 * through a GIOChannel, and closes.  Start it before any reader and watch
 * it wait: opening a FIFO for writing blocks until a reader opens it.
 * Given a regular file instead, it does the same without waiting (and
 * replaces the file's content, as "echo > file" would).
 *
 * It makes the FIFO only if asked to with --create.  Exit status: 0 when
 * the message was written, 1 when something fails, 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
main (int argc, char **argv)
{
  g_autofree char *message = NULL;
  gboolean create = FALSE;
  g_autoptr (GError) error = NULL;
  const GOptionEntry entries[] = {
    { "message", 'm', 0, G_OPTION_ARG_STRING, &message, "What to write (default: a greeting)", "TEXT" },
    { "create", 'c', 0, G_OPTION_ARG_NONE, &create, "Make PATH as a FIFO if it does not exist", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("[PATH] - write a line to a FIFO");

  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || argc > 2)
    {
      g_printerr ("write-to-pipe: %s (see --help)\n",
                  error ? error->message : "one PATH at most");
      return 2;
    }
  const char *path = argc == 2 && argv[1] != NULL ? argv[1] : "my_pipe";
  if (message == NULL)
    message = g_strdup_printf ("Hello from write-to-pipe (pid %d)", (int) getpid ());

  if (create && mkfifo (path, 0600) != 0 && errno != EEXIST)
    {
      g_printerr ("write-to-pipe: mkfifo %s: %s\n", path, g_strerror (errno));
      return 1;
    }
  /* No O_CREAT: a missing path is an error, not a new regular file. */
  printf ("opening %s for writing...\n", path);
  fflush (stdout);
  int fd = open (path, O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0)
    {
      g_printerr ("write-to-pipe: open %s: %s%s\n", path, g_strerror (errno),
                  errno == ENOENT ? " (--create makes it a FIFO)" : "");
      return 1;
    }
  printf ("pipe is open\n");
  fflush (stdout);

  GIOChannel *channel = g_io_channel_unix_new (fd);
  g_io_channel_set_close_on_unref (channel, TRUE);
  g_io_channel_set_encoding (channel, NULL, NULL);
  g_autofree char *line = g_strconcat (message, "\n", NULL);
  int status = 0;
  if (g_io_channel_write_chars (channel, line, -1, NULL, &error) != G_IO_STATUS_NORMAL ||
      g_io_channel_shutdown (channel, TRUE, &error) != G_IO_STATUS_NORMAL)
    {
      g_printerr ("write-to-pipe: write %s: %s\n", path, error->message);
      status = 1;
    }
  else
    printf ("wrote: %s\n", message);
  g_io_channel_unref (channel);
  return status;
}
