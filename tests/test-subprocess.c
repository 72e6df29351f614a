/* Tests of part5-subprocess: say-my-name greets and stops, and stalls on
 * a pipe unless line-buffered; run-say-my-name's five modes, with the
 * FIFO ones over real FIFOs, constant mode outliving many writers and
 * stopping politely on Ctrl-C typed on a real pseudo-terminal; and
 * pipe-by-hand's right way and its two mistakes, each diagnosed in time. */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "testutil.h"

#define WAIT_MS 10000
#define PROMPT "What is your name?\n"

static void
test_say_my_name (void)
{
  const char *argv[] = { SAY_MY_NAME, NULL };
  g_autofree char *out = NULL, *at_eof = NULL;
  g_assert_cmpint (tu_run (argv, "Ann\n\nBob\nexit\nCarl\n", WAIT_MS, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, PROMPT "Hello, Ann!\n" PROMPT PROMPT "Hello, Bob!\n" PROMPT "Goodbye!\n");
  g_assert_cmpint (tu_run (argv, "Dee\n", WAIT_MS, &at_eof, NULL), ==, 0);
  g_assert_cmpstr (at_eof, ==, PROMPT "Hello, Dee!\n" PROMPT "Goodbye!\n");
}

/* On a pipe, stdio holds the greeting until exit; --line-buffered not. */
static void
test_say_my_name_buffering (void)
{
  g_autoptr (TuProc) plain = tu_proc_start (SAY_MY_NAME, NULL);
  g_autoptr (TuProc) line = tu_proc_start (SAY_MY_NAME, "--line-buffered", NULL);
  tu_proc_write (plain, "Ann\n");
  tu_proc_write (line, "Ann\n");
  g_assert_true (tu_proc_wait_stdout (line, "Hello, Ann!\n", WAIT_MS));
  tu_sleep_ms (200);
  g_assert_cmpstr (tu_proc_stdout (plain)->str, ==, "");
  tu_proc_close_stdin (plain);
  tu_proc_close_stdin (line);
  g_assert_cmpint (tu_proc_wait (plain, WAIT_MS), ==, 0);
  g_assert_cmpint (tu_proc_wait (line, WAIT_MS), ==, 0);
  g_assert_cmpstr (tu_proc_stdout (plain)->str, ==, tu_proc_stdout (line)->str);
}

static void
test_scripted (void)
{
  const char *argv[] = { RUN_SAY_MY_NAME, "scripted", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==,
                   "=== the child's whole output, read after it exited ===\n"
                   PROMPT "Hello, Alice!\n" PROMPT "Hello, Bob!\n" PROMPT "Hello, Carol!\n"
                   PROMPT "Goodbye!\n=== the child exited with status 0 ===\n");
}

static void
test_mixed (void)
{
  const char *argv[] = { RUN_SAY_MY_NAME, "mixed", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (tu_run (argv, "Dave\nexit\n", WAIT_MS, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, PROMPT "Hello, Alice!\n" PROMPT "Hello, Bob!\n" PROMPT
                   "Hello, Carol!\n" PROMPT "Hello, Dave!\n" PROMPT "Goodbye!\n");
}

static void
test_inherit (void)
{
  const char *argv[] = { RUN_SAY_MY_NAME, "inherit", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (tu_run (argv, "Eve\n", WAIT_MS, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, PROMPT "Hello, Eve!\n" PROMPT "Goodbye!\n");
}

static void
test_child_option (void)
{
  const char *argv[] = { RUN_SAY_MY_NAME, "scripted", "--child", "tr a-z A-Z", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "\nALICE\nBOB\nCAROL\n"));

  const char *missing[] = { RUN_SAY_MY_NAME, "scripted", "--child", "no-such-program-here", NULL };
  g_assert_cmpint (tu_run (missing, NULL, WAIT_MS, NULL, &err), ==, 1);
  g_assert_true (g_str_has_prefix (err, "run-say-my-name: cannot start no-such-program-here: "));
}

/* Two fresh FIFOs in dir, and run-say-my-name in mode over them. */
static TuProc *
start_with_fifos (const char *mode, const char *dir, char **in, char **out)
{
  *in = g_build_filename (dir, "in", NULL);
  *out = g_build_filename (dir, "out", NULL);
  tu_mkfifo (*in);
  tu_mkfifo (*out);
  const char *argv[] = { RUN_SAY_MY_NAME, mode, "--input", *in, "--output", *out, NULL };
  return tu_proc_start_full (argv, NULL, NULL, TU_PROC_DEFAULT);
}

/* What comes out of fd until end-of-file; fd is closed. */
static char *
read_all (int fd)
{
  GString *said = g_string_new (NULL);
  g_autoptr (GArray) chunks = g_array_new (FALSE, FALSE, sizeof (TuChunk));
  g_assert_true (tu_read_until_eof (fd, WAIT_MS, said, chunks));
  close (fd);
  return g_string_free (said, FALSE);
}

static void
write_fifo (const char *path, const char *text)
{
  int fd = tu_fifo_open_write (path, WAIT_MS);
  g_assert_cmpint (write (fd, text, strlen (text)), ==, (gssize) strlen (text));
  close (fd);
}

/* The child's stdin and stdout are the FIFOs: it ends when the writer
 * closes. */
static void
test_external (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *in = NULL, *out = NULL;
  g_autoptr (TuProc) run = start_with_fifos ("external", dir, &in, &out);

  write_fifo (in, "Eve\nFay\n");
  g_autofree char *said = read_all (tu_fifo_open_read (out, TRUE));
  g_assert_cmpint (tu_proc_wait (run, WAIT_MS), ==, 0);
  g_assert_cmpstr (said, ==, PROMPT "Hello, Eve!\n" PROMPT "Hello, Fay!\n" PROMPT "Goodbye!\n");
  tu_tmpdir_remove (dir);
}

/* Twenty writers one after another: the child hears them all, in order,
 * and answers each at once on the output FIFO. */
static void
test_constant (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *in = NULL, *out = NULL;
  g_autoptr (TuProc) run = start_with_fifos ("constant", dir, &in, &out);
  int out_fd = tu_fifo_open_read (out, TRUE);
  g_assert_true (tu_proc_wait_stderr (run, "passing whatever is written", WAIT_MS));

  g_autoptr (GString) expected = g_string_new (PROMPT);
  for (int i = 0; i < 20; i++)
    {
      g_autofree char *name = g_strdup_printf ("Name%d\n", i);
      write_fifo (in, name);
      g_string_append_printf (expected, "Hello, Name%d!\n" PROMPT, i);
    }
  write_fifo (in, "exit\n");
  g_string_append (expected, "Goodbye!\n");

  g_autofree char *said = read_all (out_fd);
  g_assert_cmpint (tu_proc_wait (run, WAIT_MS), ==, 0);
  g_assert_cmpstr (said, ==, expected->str);
  tu_tmpdir_remove (dir);
}

/* On SIGINT constant mode closes the child's stdin; the child says goodbye. */
static void
test_constant_sigint (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *in = NULL, *out = NULL;
  g_autoptr (TuProc) run = start_with_fifos ("constant", dir, &in, &out);
  int out_fd = tu_fifo_open_read (out, TRUE);
  g_assert_true (tu_proc_wait_stderr (run, "passing whatever is written", WAIT_MS));
  tu_proc_signal (run, SIGINT);
  g_autofree char *said = read_all (out_fd);
  g_assert_cmpint (tu_proc_wait (run, WAIT_MS), ==, 0);
  g_assert_cmpstr (said, ==, PROMPT "Goodbye!\n");
  tu_tmpdir_remove (dir);
}

/* ------------------------------------------------------------------ */
/* Ctrl-C on a terminal: run-say-my-name constant runs on a fresh
 * pseudo-terminal as the foreground process group of its session, and the
 * test types ^C on the terminal's master side, as a keyboard would. */

typedef struct {
  GSubprocess *proc;
  int master;
  GString *screen; /* everything the terminal showed */
} OnTerminal;

/* In the child: a new session whose controlling terminal is stdin. */
static void
take_terminal (gpointer data)
{
  (void) data;
  setsid ();
  ioctl (STDIN_FILENO, TIOCSCTTY, 0);
}

static void
terminal_start (OnTerminal *t, const char *const *argv)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr (GError) error = NULL;

  t->master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_assert_cmpint (t->master, >=, 0);
  g_assert_cmpint (grantpt (t->master), ==, 0);
  g_assert_cmpint (unlockpt (t->master), ==, 0);
  int slave = open (ptsname (t->master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_assert_cmpint (slave, >=, 0);
  g_subprocess_launcher_take_stdin_fd (launcher, slave);
  g_subprocess_launcher_take_stdout_fd (launcher, dup (slave));
  g_subprocess_launcher_take_stderr_fd (launcher, dup (slave));
  g_subprocess_launcher_set_child_setup (launcher, take_terminal, NULL, NULL);
  t->proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  t->screen = g_string_new (NULL);
}

/* Reads the terminal until it has shown needle; fails after WAIT_MS. */
static void
terminal_wait_for (OnTerminal *t, const char *needle)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;
  while (strstr (t->screen->str, needle) == NULL)
    {
      int left_ms = (int) ((deadline - g_get_monotonic_time ()) / 1000);
      struct pollfd p = { .fd = t->master, .events = POLLIN };
      char buf[4096];
      if (left_ms <= 0 || poll (&p, 1, left_ms) <= 0)
        g_error ("the terminal never showed \"%s\"; it showed:\n%s", needle, t->screen->str);
      ssize_t n = read (t->master, buf, sizeof buf);
      if (n <= 0)
        g_error ("the terminal closed before \"%s\"; it showed:\n%s", needle, t->screen->str);
      g_string_append_len (t->screen, buf, n);
    }
}

static void
terminal_type (OnTerminal *t, const char *keys)
{
  g_assert_cmpint (write (t->master, keys, strlen (keys)), ==, (gssize) strlen (keys));
}

static void
on_terminal_proc_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) data = TRUE;
}

/* The exit status (128+N for signal N); fails after WAIT_MS. */
static int
terminal_wait_exit (OnTerminal *t)
{
  gboolean exited = FALSE;
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000;
  g_subprocess_wait_async (t->proc, NULL, on_terminal_proc_exited, &exited);
  while (!exited && g_get_monotonic_time () < deadline)
    tu_sleep_ms (20);
  if (!exited)
    {
      g_subprocess_force_exit (t->proc);
      g_error ("still running after %d ms; the terminal showed:\n%s", WAIT_MS, t->screen->str);
    }
  if (g_subprocess_get_if_signaled (t->proc))
    return 128 + g_subprocess_get_term_sig (t->proc);
  return g_subprocess_get_exit_status (t->proc);
}

static void
terminal_free (OnTerminal *t)
{
  if (g_subprocess_get_identifier (t->proc) != NULL)
    g_subprocess_force_exit (t->proc);
  g_object_unref (t->proc);
  close (t->master);
  g_string_free (t->screen, TRUE);
}

/* Constant mode on a terminal, with --child COMMAND if not NULL. */
static void
start_constant_on_terminal (OnTerminal *t, const char *dir, const char *child, int *out_fd)
{
  g_autofree char *in = g_build_filename (dir, "in", NULL);
  g_autofree char *out = g_build_filename (dir, "out", NULL);
  tu_mkfifo (in);
  tu_mkfifo (out);
  const char *argv[] = { RUN_SAY_MY_NAME, "constant", "--input", in, "--output", out,
                         child ? "--child" : NULL, child, NULL };
  terminal_start (t, argv);
  *out_fd = tu_fifo_open_read (out, TRUE);
  terminal_wait_for (t, "passing whatever is written");
}

/* Ctrl-C signals the terminal's whole foreground process group.  The child
 * is out of it: only the parent is interrupted, closes the child's stdin,
 * and the child says goodbye and exits 0. */
static void
test_constant_ctrl_c (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  OnTerminal t = { 0 };
  int out_fd;
  start_constant_on_terminal (&t, dir, NULL, &out_fd);
  terminal_type (&t, "\003");
  terminal_wait_for (&t, "run-say-my-name: stopping: closing the child's stdin "
                         "(once more to send it SIGINT)");
  g_autofree char *said = read_all (out_fd);
  g_assert_cmpint (terminal_wait_exit (&t), ==, 0);
  g_assert_cmpstr (said, ==, PROMPT "Goodbye!\n");
  terminal_free (&t);
  tu_tmpdir_remove (dir);
}

/* A child that ignores end-of-file lives on after the first Ctrl-C; the
 * second is passed on to it, and its death by SIGINT is our status. */
static void
test_constant_ctrl_c_twice (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  OnTerminal t = { 0 };
  int out_fd;
  start_constant_on_terminal (&t, dir, "sleep 60", &out_fd);
  terminal_type (&t, "\003");
  terminal_wait_for (&t, "closing the child's stdin");
  tu_sleep_ms (300);
  g_assert_true (g_subprocess_get_identifier (t.proc) != NULL); /* still running */
  terminal_type (&t, "\003");
  terminal_wait_for (&t, "run-say-my-name: passing SIGINT on to the child");
  g_assert_cmpint (terminal_wait_exit (&t), ==, 128 + SIGINT);
  close (out_fd);
  terminal_free (&t);
  tu_tmpdir_remove (dir);
}

/* ------------------------------------------------------------------ */
/* pipe-by-hand */

/* Runs pipe-by-hand with args; returns its status, output and seconds. */
static int
run_by_hand (const char *const *args, char **out, char **err, double *seconds)
{
  const char *argv[8] = { PIPE_BY_HAND };
  for (guint i = 0; args[i] != NULL; i++)
    argv[i + 1] = args[i];
  gint64 start = g_get_monotonic_time ();
  int status = tu_run (argv, NULL, WAIT_MS, out, err);
  *seconds = (g_get_monotonic_time () - start) / 1e6;
  return status;
}

static void
assert_has (const char *text, const char *needle)
{
  if (strstr (text, needle) == NULL)
    g_error ("no \"%s\" in:\n%s", needle, text);
}

static void
test_by_hand_right_way (void)
{
  g_autofree char *out = NULL, *err = NULL;
  double seconds;
  g_assert_cmpint (run_by_hand ((const char *[]) { NULL }, &out, &err, &seconds), ==, 0);
  g_assert_cmpstr (out, ==, "apple\nfig\npear\n");
  assert_has (err, "pipe-by-hand: pipe() made the pipe to sort: fd 3 (read end), fd 4 (write end)\n");
  assert_has (err, "dup2(3, 0), dup2(6, 1), close 3 4 5 6, execvp(\"sort\")\n");
  assert_has (err, "wrote 15 bytes; closing fd 4, our write end: sort will see end-of-file\n");
  assert_has (err, "read 15 bytes from fd 5, then end-of-file: sort closed its stdout\n");
  assert_has (err, "pipe-by-hand: sort exited with status 0\n");
  g_assert_cmpfloat (seconds, <, 0.9); /* never waited for the stuck timer */
}

static void
test_by_hand_other_child (void)
{
  g_autofree char *out = NULL, *err = NULL;
  double seconds;
  g_assert_cmpint (run_by_hand ((const char *[]) { "--child", "tr a-z A-Z", NULL }, &out, &err,
                                &seconds), ==, 0);
  g_assert_cmpstr (out, ==, "PEAR\nAPPLE\nFIG\n");
  assert_has (err, "pipe-by-hand: tr exited with status 0\n");
}

/* The child keeps the write end of its own stdin: no end-of-file, found
 * out after a second, the child stopped. */
static void
test_by_hand_no_close (void)
{
  g_autofree char *out = NULL, *err = NULL;
  double seconds;
  g_assert_cmpint (run_by_hand ((const char *[]) { "--no-close", NULL }, &out, &err, &seconds),
                   ==, 1);
  g_assert_cmpstr (out, ==, "");
  assert_has (err, "close 3 5 6 (not 4!), execvp(\"sort\")\n");
  assert_has (err, "pipe-by-hand: stuck: no end-of-file from sort after 1000 ms, although we "
                   "closed our write end\n");
  assert_has (err, "pipe-by-hand: sort has its stdin pipe open on fds 0 and 4: it still holds "
                   "a write end of its own stdin\n");
  assert_has (err, "pipe-by-hand: sort ended by signal 15 (Terminated)\n");
  g_assert_cmpfloat (seconds, >=, 1.0);
  g_assert_cmpfloat (seconds, <, 5.0);
}

/* cat answers as it reads: what came back is printed, though the end
 * never comes. */
static void
test_by_hand_no_close_cat (void)
{
  g_autofree char *out = NULL, *err = NULL;
  double seconds;
  g_assert_cmpint (run_by_hand ((const char *[]) { "--no-close", "--child", "cat", NULL }, &out,
                                &err, &seconds), ==, 1);
  g_assert_cmpstr (out, ==, "pear\napple\nfig\n");
  assert_has (err, "pipe-by-hand: cat has its stdin pipe open on fds 0 and 4");
  g_assert_cmpfloat (seconds, <, 5.0);
}

/* Writing 1 MiB to cat before reading: both pipes fill, found out after a
 * second, explained with what each pipe holds. */
static void
test_by_hand_deadlock (void)
{
  g_autofree char *out = NULL, *err = NULL;
  double seconds;
  g_assert_cmpint (run_by_hand ((const char *[]) { "--deadlock", NULL }, &out, &err, &seconds),
                   ==, 1);
  g_assert_cmpstr (out, ==, "");
  assert_has (err, "pipe-by-hand: writing 1048576 bytes to fd 4 before reading anything\n");
  assert_has (err, "pipe-by-hand: stuck: for 1000 ms cat has taken nothing more; ");
  assert_has (err, "pipe-by-hand: the pipe to cat is full: 65536 bytes that cat does not read\n");
  assert_has (err, "pipe-by-hand: the pipe from cat is full: 65536 bytes that we do not read\n");
  assert_has (err, "pipe-by-hand: a deadlock: we wait for cat to read, cat waits for us to read");
  assert_has (err, "pipe-by-hand: cat ended by signal 15 (Terminated)\n");
  g_assert_cmpfloat (seconds, >=, 1.0);
  g_assert_cmpfloat (seconds, <, 5.0);
}

/* sort reads everything before it answers: the same 1 MiB goes through. */
static void
test_by_hand_deadlock_sort (void)
{
  g_autofree char *out = NULL, *err = NULL;
  double seconds;
  g_assert_cmpint (run_by_hand ((const char *[]) { "--deadlock", "--child", "sort", NULL }, &out,
                                &err, &seconds), ==, 0);
  g_assert_cmpuint (strlen (out), ==, 1048576);
  g_assert_true (g_str_has_suffix (out, "line 0000065535\nline 0000065536\n"));
  assert_has (err, "pipe-by-hand: sort exited with status 0\n");
}

static void
test_by_hand_usage (void)
{
  static const struct {
    const char *args[4];
    int status;
    const char *message;
  } cases[] = {
    { { "extra", NULL }, 2, "pipe-by-hand: no arguments, only options (see --help)\n" },
    { { "--child", "'open", NULL }, 2, "pipe-by-hand: --child 'open: " },
    { { "--bogus", NULL }, 2, "pipe-by-hand: Unknown option --bogus (see --help)\n" },
    { { "--child", "no-such-program-here", NULL }, 1,
      "pipe-by-hand: no-such-program-here exited with status 127\n" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;
      double seconds;
      g_assert_cmpint (run_by_hand (cases[i].args, NULL, &err, &seconds), ==, cases[i].status);
      assert_has (err, cases[i].message);
    }
}

static void
test_usage (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *file = g_build_filename (dir, "file", NULL);
  g_file_set_contents (file, "", -1, NULL);
  static const char *const no_fifo = "run-say-my-name: this mode needs --input FIFO (see --help)\n";
  const struct {
    const char *argv[7];
    int status;
    const char *message;
  } cases[] = {
    { { RUN_SAY_MY_NAME, NULL }, 2, "run-say-my-name: which MODE? inherit, scripted, mixed, external or constant\n" },
    { { RUN_SAY_MY_NAME, "sideways", NULL }, 2, "run-say-my-name: unknown MODE 'sideways' (inherit, scripted, mixed, external, constant)\n" },
    { { RUN_SAY_MY_NAME, "external", NULL }, 2, no_fifo },
    { { RUN_SAY_MY_NAME, "constant", "--input", file, "--output", file, NULL }, 1, ": not a FIFO\n" },
    { { RUN_SAY_MY_NAME, "--bogus", NULL }, 2, "run-say-my-name: Unknown option --bogus (see --help)\n" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;
      g_assert_cmpint (tu_run (cases[i].argv, NULL, WAIT_MS, NULL, &err), ==, cases[i].status);
      g_assert_true (g_str_has_suffix (err, cases[i].message));
    }
  tu_tmpdir_remove (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/one-child/say-my-name/greets", test_say_my_name);
  g_test_add_func ("/one-child/say-my-name/buffering", test_say_my_name_buffering);
  g_test_add_func ("/one-child/scripted", test_scripted);
  g_test_add_func ("/one-child/mixed", test_mixed);
  g_test_add_func ("/one-child/inherit", test_inherit);
  g_test_add_func ("/one-child/child-option", test_child_option);
  g_test_add_func ("/one-child/external", test_external);
  g_test_add_func ("/one-child/constant/many-writers", test_constant);
  g_test_add_func ("/one-child/constant/sigint", test_constant_sigint);
  g_test_add_func ("/one-child/constant/ctrl-c-on-terminal", test_constant_ctrl_c);
  g_test_add_func ("/one-child/constant/ctrl-c-twice", test_constant_ctrl_c_twice);
  g_test_add_func ("/one-child/usage", test_usage);
  g_test_add_func ("/by-hand/right-way", test_by_hand_right_way);
  g_test_add_func ("/by-hand/other-child", test_by_hand_other_child);
  g_test_add_func ("/by-hand/no-close", test_by_hand_no_close);
  g_test_add_func ("/by-hand/no-close-cat", test_by_hand_no_close_cat);
  g_test_add_func ("/by-hand/deadlock", test_by_hand_deadlock);
  g_test_add_func ("/by-hand/deadlock-sort", test_by_hand_deadlock_sort);
  g_test_add_func ("/by-hand/usage", test_by_hand_usage);
  return g_test_run ();
}
