/* mini-harness: the smallest harness that works, in one file.
 *
 * It demonstrates the whole of part 6 in miniature: two children started
 * with GSubprocess, each with its stdin, stdout and stderr on pipes; an
 * input FIFO for each, held open O_RDWR so that writers can come and go;
 * both outputs read through GIOChannel watches and printed on our stdout,
 * each line marked "A: " or "B: "; and one GMainLoop that waits for all of
 * it.  When a child ends, the other is sent SIGTERM (SIGKILL 2 s later),
 * the loop reads both outputs to their end, the FIFOs it made are removed,
 * and it exits with the status of the child that ended first.
 *
 * Run it:   mini-harness --fifo-dir /tmp/mini shout mirror
 * and from another terminal:   echo hello > /tmp/mini/A
 * Look for: "A: HELLO", each echo arriving although the one before closed
 * the FIFO, and both children gone, with the FIFOs, once one says "exit".
 *
 * What it leaves out, pipe-harness adds (see README.md): it writes to a
 * child's stdin with a blocking write, has no bound on a slow child, no
 * process groups, no checks on the FIFO paths, no pty, no script. */

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define KILL_TIMEOUT_MS 2000

typedef struct
{
  const char *name;      /* "A" or "B" */
  GSubprocess *process;
  GOutputStream *stdin_pipe;
  GIOChannel *output;    /* the child's stdout and stderr, merged */
  char *fifo_path;       /* NULL if we did not make it */
  GIOChannel *fifo;
  guint fifo_watch;
  gboolean output_done;  /* end-of-file on its output */
  gboolean exited;
} Child;

static Child children[2] = { { .name = "A" }, { .name = "B" } };
static GMainLoop *loop;
static int exit_status = -1;

static void
finish_if_done (void)
{
  for (int i = 0; i < 2; i++)
    if (!children[i].exited || !children[i].output_done)
      return;
  g_main_loop_quit (loop);
}

/* A line of a child's output: marked, and flushed at once. */
static gboolean
on_output (GIOChannel *channel, GIOCondition condition, gpointer data)
{
  Child *c = data;
  (void) condition;
  for (;;)
    {
      g_autofree char *line = NULL;
      gsize length = 0;
      GIOStatus status = g_io_channel_read_line (channel, &line, &length, NULL, NULL);
      if (status == G_IO_STATUS_NORMAL)
        {
          printf ("%s: %.*s%s", c->name, (int) length, line,
                  length > 0 && line[length - 1] == '\n' ? "" : "\n");
          fflush (stdout);
          continue;
        }
      if (status == G_IO_STATUS_AGAIN)
        return G_SOURCE_CONTINUE;
      c->output_done = TRUE; /* end-of-file, or an error reading */
      finish_if_done ();
      return G_SOURCE_REMOVE;
    }
}

/* Whatever a writer put in the FIFO goes to the child's stdin as it is. */
static gboolean
on_fifo (GIOChannel *channel, GIOCondition condition, gpointer data)
{
  Child *c = data;
  char buffer[4096];
  (void) condition;
  ssize_t n = read (g_io_channel_unix_get_fd (channel), buffer, sizeof buffer);
  if (n > 0 && !c->exited)
    g_output_stream_write_all (c->stdin_pipe, buffer, n, NULL, NULL, NULL);
  return G_SOURCE_CONTINUE; /* we hold a writer: never end-of-file */
}

static void
on_kill_timeout (gpointer data)
{
  (void) data;
  for (int i = 0; i < 2; i++)
    if (children[i].process != NULL && !children[i].exited)
      g_subprocess_force_exit (children[i].process);
}

static void /* SIGTERM to the children still running, SIGKILL later */
stop_all (void)
{
  for (int i = 0; i < 2; i++)
    if (children[i].process != NULL && !children[i].exited)
      g_subprocess_send_signal (children[i].process, SIGTERM);
  g_timeout_add_once (KILL_TIMEOUT_MS, on_kill_timeout, NULL);
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  Child *c = data;
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  c->exited = TRUE;
  int status = g_subprocess_get_if_exited (c->process)
                 ? g_subprocess_get_exit_status (c->process)
                 : 128 + g_subprocess_get_term_sig (c->process);
  fprintf (stderr, "mini-harness: %s ended (status %d)\n", c->name, status);
  if (exit_status < 0)
    {
      exit_status = status;
      stop_all ();
    }
  finish_if_done ();
}

static gboolean
on_signal (gpointer data)
{
  (void) data;
  exit_status = exit_status < 0 ? 130 : exit_status;
  stop_all ();
  return G_SOURCE_CONTINUE;
}

static gboolean
start_child (Child *c, const char *command, const char *fifo_dir, GError **error)
{
  g_auto (GStrv) argv = NULL;
  if (!g_shell_parse_argv (command, NULL, &argv, error))
    return FALSE;

  g_autofree char *path = g_build_filename (fifo_dir, c->name, NULL);
  if (mkfifo (path, 0600) != 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s", path,
                   g_strerror (errno));
      return FALSE;
    }
  c->fifo_path = g_steal_pointer (&path);
  /* Held open for reading and writing: a writer is always there, so one
   * writer's close is no end-of-file, and the open does not wait. */
  int fd = open (c->fifo_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "%s: %s",
                   c->fifo_path, g_strerror (errno));
      return FALSE;
    }
  c->fifo = g_io_channel_unix_new (fd);
  g_io_channel_set_close_on_unref (c->fifo, TRUE);

  c->process = g_subprocess_newv ((const char *const *) argv,
                                  G_SUBPROCESS_FLAGS_STDIN_PIPE
                                  | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                  | G_SUBPROCESS_FLAGS_STDERR_MERGE, error);
  if (c->process == NULL)
    return FALSE;
  fprintf (stderr, "mini-harness: %s reads its input from %s\n", c->name, c->fifo_path);
  c->stdin_pipe = g_subprocess_get_stdin_pipe (c->process);
  int out_fd = g_unix_input_stream_get_fd (
    G_UNIX_INPUT_STREAM (g_subprocess_get_stdout_pipe (c->process)));
  c->output = g_io_channel_unix_new (out_fd);
  g_io_channel_set_encoding (c->output, NULL, NULL); /* bytes, not UTF-8 */
  g_io_channel_set_flags (c->output, G_IO_FLAG_NONBLOCK, NULL);
  g_io_add_watch (c->output, G_IO_IN | G_IO_HUP | G_IO_ERR, on_output, c);
  c->fifo_watch = g_io_add_watch (c->fifo, G_IO_IN, on_fifo, c);
  g_subprocess_wait_async (c->process, NULL, on_exited, c);
  return TRUE;
}

int
main (int argc, char **argv)
{
  const char *fifo_dir = NULL;
  g_autofree char *made_dir = NULL;
  if (argc > 1 && strcmp (argv[1], "--fifo-dir") == 0 && argc > 2)
    {
      fifo_dir = argv[2];
      argv += 2;
      argc -= 2;
    }
  if (argc != 3 || argv[1][0] == '-')
    {
      fprintf (stderr, "usage: mini-harness [--fifo-dir DIR] CMD_A CMD_B\n");
      return 2;
    }
  signal (SIGPIPE, SIG_IGN); /* a child gone: its stdin's write fails, we go on */

  g_autoptr (GError) error = NULL;
  if (fifo_dir == NULL)
    fifo_dir = made_dir = g_dir_make_tmp ("mini-harness-XXXXXX", &error);
  loop = g_main_loop_new (NULL, FALSE);
  int status = 0;
  if (fifo_dir == NULL || !start_child (&children[0], argv[1], fifo_dir, &error)
      || !start_child (&children[1], argv[2], fifo_dir, &error))
    {
      fprintf (stderr, "mini-harness: %s\n", error->message);
      status = g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT) ? 127 : 2;
      if (children[0].process != NULL)
        {
          children[1].exited = children[1].output_done = TRUE;
          exit_status = status;
          stop_all ();
        }
    }
  if (children[0].process != NULL)
    {
      g_unix_signal_add (SIGINT, on_signal, NULL);
      g_unix_signal_add (SIGTERM, on_signal, NULL);
      g_main_loop_run (loop);
      status = status == 0 ? exit_status : status;
    }

  for (int i = 0; i < 2; i++)
    {
      Child *c = &children[i];
      if (c->fifo_watch != 0)
        g_source_remove (c->fifo_watch);
      g_clear_pointer (&c->fifo, g_io_channel_unref);
      g_clear_pointer (&c->output, g_io_channel_unref);
      g_clear_object (&c->process);
      if (c->fifo_path != NULL)
        g_unlink (c->fifo_path);
      g_free (c->fifo_path);
    }
  if (made_dir != NULL)
    g_rmdir (made_dir);
  g_main_loop_unref (loop);
  return status;
}
