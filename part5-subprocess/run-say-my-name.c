/* run-say-my-name: one child process and its pipes, five ways.
 *
 *   run-say-my-name inherit              the child shares our terminal
 *   run-say-my-name scripted             three names in, stdin closed, output back
 *   run-say-my-name mixed                three names, then our stdin, forwarded
 *   run-say-my-name external --input IN --output OUT
 *                                        the child's stdin and stdout are the FIFOs
 *   run-say-my-name constant --input IN --output OUT
 *                                        we re-open IN for every writer and pass
 *                                        what comes to the child: it outlives them
 *
 * The child is say-my-name from this folder, or --child COMMAND.  Each mode
 * waits on a GMainLoop (child exit, pipe data, signals) rather than polling.
 *
 * What to look for: in scripted mode the output comes back only when the
 * child exits, because its stdout is a pipe and stdio fills a buffer first;
 * constant mode runs the child line-buffered (--line-buffered, or
 * "stdbuf -oL" for another command) so each greeting reaches OUT at once,
 * and in a process group of its own, so that Ctrl-C reaches only us: we
 * close its stdin and it says goodbye (a second Ctrl-C is passed on).
 *
 * Exit status: the child's (128+N if killed by signal N); 1 when something
 * fails (a missing FIFO, a child that cannot start); 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_FAILED 1
#define EXIT_USAGE 2

static const char names[] = "Alice\nBob\nCarol\n";

typedef struct {
  GMainLoop *loop;
  GSubprocess *child;
  int status;
  /* constant mode */
  const char *input_path;
  int input_fd;
  guint input_watch;
  GOutputStream *child_stdin;
  gboolean stop_asked; /* a first Ctrl-C or SIGTERM came */
} Run;

static int G_GNUC_PRINTF (2, 3)
fail (int status, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_printerr ("run-say-my-name: %s\n", message);
  return status;
}

static int
exit_status_of (GSubprocess *child)
{
  if (g_subprocess_get_if_signaled (child))
    return 128 + g_subprocess_get_term_sig (child);
  return g_subprocess_get_exit_status (child);
}

static void
on_child_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *run = data;
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  run->status = exit_status_of (G_SUBPROCESS (source));
  g_main_loop_quit (run->loop);
}

/* Runs the main loop until the child has exited. */
static int
wait_for_child (Run *run)
{
  g_subprocess_wait_async (run->child, NULL, on_child_exited, run);
  g_main_loop_run (run->loop);
  return run->status;
}

static GSubprocess *
spawn (GSubprocessLauncher *launcher, char **argv, int *status)
{
  g_autoptr (GError) error = NULL;
  GSubprocess *child = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv, &error);
  if (child == NULL)
    *status = fail (EXIT_FAILED, "cannot start %s: %s", argv[0], error->message);
  return child;
}

/* ------------------------------------------------------------------ */

static int
run_inherit (Run *run, char **argv)
{
  /* stdout and stderr are inherited unless told otherwise; stdin would be
   * /dev/null without STDIN_INHERIT. */
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  int status = 0;
  g_printerr ("run-say-my-name: the child shares this terminal; type names, then exit\n");
  if ((run->child = spawn (launcher, argv, &status)) == NULL)
    return status;
  return wait_for_child (run);
}

static void
on_communicated (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *run = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;

  if (!g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &out, NULL, &error))
    run->status = fail (EXIT_FAILED, "talking to the child: %s", error->message);
  else
    {
      run->status = exit_status_of (G_SUBPROCESS (source));
      g_print ("=== the child's whole output, read after it exited ===\n%s"
               "=== the child exited with status %d ===\n", out, run->status);
    }
  g_main_loop_quit (run->loop);
}

static int
run_scripted (Run *run, char **argv)
{
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  int status = 0;
  if ((run->child = spawn (launcher, argv, &status)) == NULL)
    return status;
  g_printerr ("run-say-my-name: sending three names, then closing the child's stdin\n");
  /* communicate writes the input, closes stdin (end-of-file for the child),
   * and collects stdout until the child closes it. */
  g_subprocess_communicate_utf8_async (run->child, names, NULL, on_communicated, run);
  g_main_loop_run (run->loop);
  return run->status;
}

static void
on_stdin_forwarded (GObject *source, GAsyncResult *result, gpointer data)
{
  (void) data;
  /* The child may have exited first (a broken pipe): nothing to do. */
  g_output_stream_splice_finish (G_OUTPUT_STREAM (source), result, NULL);
}

static int
run_mixed (Run *run, char **argv)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE);
  g_autoptr (GError) error = NULL;
  int status = 0;

  if ((run->child = spawn (launcher, argv, &status)) == NULL)
    return status;
  GOutputStream *child_stdin = g_subprocess_get_stdin_pipe (run->child);
  if (!g_output_stream_write_all (child_stdin, names, strlen (names), NULL, NULL, &error))
    return fail (EXIT_FAILED, "writing to the child: %s", error->message);
  g_printerr ("run-say-my-name: sent three names; now forwarding what you type "
              "(end with exit or Ctrl-D)\n");
  g_autoptr (GInputStream) our_stdin = g_unix_input_stream_new (STDIN_FILENO, FALSE);
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_output_stream_splice_async (child_stdin, our_stdin, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
                                G_PRIORITY_DEFAULT, cancel, on_stdin_forwarded, run);
  status = wait_for_child (run);
  g_cancellable_cancel (cancel);
  return status;
}

/* A FIFO, or an error saying what path is instead. */
static gboolean
check_fifo (const char *option, const char *path, int *status)
{
  struct stat st;
  if (path == NULL)
    *status = fail (EXIT_USAGE, "this mode needs %s FIFO (see --help)", option);
  else if (stat (path, &st) != 0)
    *status = fail (EXIT_FAILED, "%s %s: %s", option, path, g_strerror (errno));
  else if (!S_ISFIFO (st.st_mode))
    *status = fail (EXIT_FAILED, "%s %s: not a FIFO", option, path);
  else
    return TRUE;
  return FALSE;
}

static int
open_told (const char *path, int flags, const char *waiting_for)
{
  g_printerr ("run-say-my-name: opening %s (waits for a %s)\n", path, waiting_for);
  int fd = open (path, flags | O_CLOEXEC);
  if (fd < 0)
    fail (EXIT_FAILED, "open %s: %s", path, g_strerror (errno));
  return fd;
}

static int
run_external (Run *run, char **argv, const char *input, const char *output)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  int status = 0;

  if (!check_fifo ("--input", input, &status) || !check_fifo ("--output", output, &status))
    return status;
  int in = open_told (input, O_RDONLY, "writer");
  if (in < 0)
    return EXIT_FAILED;
  int out = open_told (output, O_WRONLY, "reader");
  if (out < 0)
    {
      close (in);
      return EXIT_FAILED;
    }
  /* The FIFOs themselves become the child's stdin and stdout. */
  g_subprocess_launcher_take_stdin_fd (launcher, in);
  g_subprocess_launcher_take_stdout_fd (launcher, out);
  if ((run->child = spawn (launcher, argv, &status)) == NULL)
    return status;
  g_clear_object (&launcher); /* closes our copies of the FIFOs */
  g_printerr ("run-say-my-name: the child runs until its input's writer closes\n");
  return wait_for_child (run);
}

static gboolean on_input_readable (int fd, GIOCondition condition, gpointer data);

/* Opening for reading with O_NONBLOCK returns at once, writer or not; the
 * main loop then tells us when a writer has sent something. */
static gboolean
open_input (Run *run)
{
  run->input_fd = open (run->input_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (run->input_fd < 0)
    {
      fail (EXIT_FAILED, "open %s: %s", run->input_path, g_strerror (errno));
      return FALSE;
    }
  run->input_watch = g_unix_fd_add (run->input_fd, G_IO_IN | G_IO_HUP, on_input_readable, run);
  return TRUE;
}

static gboolean
on_input_readable (int fd, GIOCondition condition, gpointer data)
{
  Run *run = data;
  char buf[4096];
  g_autoptr (GError) error = NULL;
  (void) condition;

  ssize_t n = read (fd, buf, sizeof buf);
  if (n > 0)
    {
      if (!g_output_stream_write_all (run->child_stdin, buf, n, NULL, NULL, &error))
        g_printerr ("run-say-my-name: the child does not take input: %s\n", error->message);
      return G_SOURCE_CONTINUE;
    }
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return G_SOURCE_CONTINUE;
  /* End-of-file: this writer is gone.  Left open, the FIFO would report
   * "hung up" for ever; opened afresh, it waits quietly for the next.  The
   * new end is opened before the old one is closed: the next writer may
   * already have come and written, and a FIFO that loses its last reader
   * throws away what is in it. */
  g_printerr ("run-say-my-name: a writer closed %s; re-opening it for the next\n",
              run->input_path);
  run->input_watch = 0;
  if (!open_input (run))
    g_main_loop_quit (run->loop);
  close (fd);
  return G_SOURCE_REMOVE;
}

/* Ctrl-C, or SIGTERM: the first time, close the child's stdin and let it
 * end as it does at end-of-file; the second time, pass the signal on to
 * the child, for a child that does not stop at end-of-file. */
static gboolean
on_stop_signal (Run *run, int signum, const char *name)
{
  if (!run->stop_asked)
    {
      run->stop_asked = TRUE;
      g_printerr ("run-say-my-name: stopping: closing the child's stdin "
                  "(once more to send it %s)\n", name);
      g_output_stream_close (run->child_stdin, NULL, NULL);
    }
  else
    {
      g_printerr ("run-say-my-name: passing %s on to the child\n", name);
      g_subprocess_send_signal (run->child, signum);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sigint (gpointer data)
{
  return on_stop_signal (data, SIGINT, "SIGINT");
}

static gboolean
on_sigterm (gpointer data)
{
  return on_stop_signal (data, SIGTERM, "SIGTERM");
}

/* In the child, before exec: a process group of its own.  Ctrl-C makes the
 * terminal signal its whole foreground process group; out of it, the child
 * hears of Ctrl-C only from us. */
static void
leave_foreground_group (gpointer data)
{
  (void) data;
  setpgid (0, 0);
}

static int
run_constant (Run *run, char **argv, const char *input, const char *output)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE);
  int status = 0;

  if (!check_fifo ("--input", input, &status) || !check_fifo ("--output", output, &status))
    return status;
  int out = open_told (output, O_WRONLY, "reader");
  if (out < 0)
    return EXIT_FAILED;
  g_subprocess_launcher_take_stdout_fd (launcher, out);
  g_subprocess_launcher_set_child_setup (launcher, leave_foreground_group, NULL, NULL);
  if ((run->child = spawn (launcher, argv, &status)) == NULL)
    return status;
  g_clear_object (&launcher);
  run->child_stdin = g_subprocess_get_stdin_pipe (run->child);
  run->input_path = input;
  if (!open_input (run))
    {
      g_subprocess_force_exit (run->child);
      return EXIT_FAILED;
    }
  guint sigint = g_unix_signal_add (SIGINT, on_sigint, run);
  guint sigterm = g_unix_signal_add (SIGTERM, on_sigterm, run);
  g_printerr ("run-say-my-name: passing whatever is written to %s to the child; "
              "it stops on exit, or on Ctrl-C\n", input);
  status = wait_for_child (run);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  g_clear_handle_id (&run->input_watch, g_source_remove);
  close (run->input_fd);
  return status;
}

/* ------------------------------------------------------------------ */

/* say-my-name next to this program, not whatever PATH finds. */
static char *
default_child (void)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = self ? g_path_get_dirname (self) : g_strdup (".");
  return g_build_filename (dir, "say-my-name", NULL);
}

static char **
child_argv (const char *command, gboolean line_buffered, int *status)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GStrvBuilder) argv = g_strv_builder_new ();

  if (command == NULL)
    {
      g_autofree char *child = default_child ();
      g_strv_builder_add (argv, child);
      if (line_buffered)
        g_strv_builder_add (argv, "--line-buffered");
      return g_strv_builder_end (argv);
    }
  g_auto (GStrv) words = NULL;
  if (!g_shell_parse_argv (command, NULL, &words, &error))
    {
      *status = fail (EXIT_USAGE, "--child %s: %s", command, error->message);
      return NULL;
    }
  /* Another program: coreutils' stdbuf makes its stdio line-buffered. */
  if (line_buffered)
    g_strv_builder_addv (argv, (const char *[]) { "stdbuf", "-oL", NULL });
  g_strv_builder_addv (argv, (const char **) words);
  return g_strv_builder_end (argv);
}

int
main (int argc, char **argv)
{
  g_autofree char *command = NULL;
  g_autofree char *input = NULL;
  g_autofree char *output = NULL;
  g_autoptr (GError) error = NULL;
  const GOptionEntry entries[] = {
    { "child", 'c', 0, G_OPTION_ARG_STRING, &command, "Run COMMAND instead of say-my-name", "COMMAND" },
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &input, "external, constant: the input FIFO", "FIFO" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "external, constant: the output FIFO", "FIFO" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("MODE - one child process and its pipes");
  Run run = { .input_fd = -1 };
  int status = 0;

  setlocale (LC_ALL, "");
  g_option_context_set_summary (context,
    "MODE is inherit, scripted, mixed, external or constant.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return fail (EXIT_USAGE, "%s (see --help)", error->message);
  if (argc != 2)
    return fail (EXIT_USAGE, "which MODE? inherit, scripted, mixed, external or constant");

  const char *mode = argv[1];
  gboolean constant = strcmp (mode, "constant") == 0;
  g_auto (GStrv) child = child_argv (command, constant, &status);
  if (child == NULL)
    return status;

  signal (SIGPIPE, SIG_IGN); /* a child gone is an error to report, not our death */
  run.loop = g_main_loop_new (NULL, FALSE);
  if (strcmp (mode, "inherit") == 0)
    status = run_inherit (&run, child);
  else if (strcmp (mode, "scripted") == 0)
    status = run_scripted (&run, child);
  else if (strcmp (mode, "mixed") == 0)
    status = run_mixed (&run, child);
  else if (strcmp (mode, "external") == 0)
    status = run_external (&run, child, input, output);
  else if (constant)
    status = run_constant (&run, child, input, output);
  else
    status = fail (EXIT_USAGE, "unknown MODE '%s' (inherit, scripted, mixed, external, constant)", mode);
  g_clear_object (&run.child);
  g_main_loop_unref (run.loop);
  return status;
}
