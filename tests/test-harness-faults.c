/* Fault and hostile-input tests of pipe-harness.  Each checks what must
 * hold whatever happens: no byte a child wrote is lost, no child is left
 * running, nothing the harness made is left on disk, the exit status is the
 * documented one, and a path it refuses is left as it was. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness-run.h"

#define LINE_LEN 64

/* No folder of the harness is left in run->tmp. */
static void
assert_nothing_left (Run *run)
{
  g_autoptr (GDir) dir = g_dir_open (run->tmp, 0, NULL);
  for (const char *name; (name = g_dir_read_name (dir)) != NULL;)
    if (g_str_has_prefix (name, "pipe-harness-"))
      g_error ("%s was left in %s", name, run->tmp);
}

/* Checks that the lines marked "name: " in out are harness-child flood
 * lines 0, 1, 2, … each whole (but perhaps the last), and returns how many
 * bytes of the child's they hold. */
static gsize
flood_bytes (const char *out, const char *name)
{
  g_autofree char *mark = g_strdup_printf ("%s: ", name);
  gsize bytes = 0;
  long expected = 0;
  gboolean cut = FALSE;

  for (const char *p = out; *p != '\0';)
    {
      const char *nl = strchr (p, '\n');
      g_assert_nonnull (nl);
      if (g_str_has_prefix (p, mark))
        {
          const char *body = p + strlen (mark);
          gsize len = nl - body;
          char number[16];
          g_assert_false (cut); /* only the last line may be cut short */
          g_snprintf (number, sizeof number, "%09ld ", expected);
          g_assert_cmpmem (body, MIN (len, 10), number, MIN (len, 10));
          if (len == LINE_LEN - 1)
            bytes += LINE_LEN; /* with its newline */
          else
            {
              g_assert_cmpuint (len, <, LINE_LEN - 1);
              bytes += len; /* cut: the newline was the harness's */
              cut = TRUE;
            }
          expected++;
        }
      p = nl + 1;
    }
  return bytes;
}

/* "A! wrote N bytes", from harness-child flood-until-term. */
static gsize
reported_bytes (const char *out, const char *name)
{
  g_autofree char *said = g_strdup_printf ("%s! wrote ", name);
  const char *at = strstr (out, said);
  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen (said), NULL, 10);
}

/* ------------------------------------------------------------------ */
/* Signals */

/* A signal in the middle of a flood: every byte the child wrote before
 * it was stopped is shown, and the status is 128+signal. */
static void
test_signal_mid_flood (void)
{
  static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      Run run;
      g_autofree char *a = child ("flood-until-term 64");
      g_autofree char *b = child ("idle");
      run_init (&run);
      run_start (&run, a, b);
      GPid pid_a = pid_of (&run, "A"), pid_b = pid_of (&run, "B");
      while (tu_proc_stdout (run.proc)->len < 4 * 1024 * 1024 && tu_proc_running (run.proc))
        tu_sleep_ms (5);
      tu_proc_signal (run.proc, signals[i]);
      g_assert_cmpint (run_wait (&run), ==, 128 + signals[i]);

      const char *out = run_out (&run);
      g_assert_cmpuint (flood_bytes (out, "A"), ==, reported_bytes (out, "A"));
      g_assert_false (pid_alive (pid_a));
      g_assert_false (pid_alive (pid_b));
      assert_nothing_left (&run);
      run_clear (&run);
    }
}

/* A signal once the children are quiet: their last (unfinished) words
 * are shown, and everything ends cleanly. */
static void
test_signal_after_quiet (void)
{
  static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      Run run;
      g_autofree char *a = child ("idle");
      g_autofree char *b = child ("partial 'half a li'");
      run_init (&run);
      run_start (&run, a, b);
      g_assert_true (tu_proc_wait_stdout (run.proc, "B: half a li\n", WAIT_MS));
      g_assert_true (tu_proc_wait_stdout (run.proc, "A: pid ", WAIT_MS));
      tu_sleep_ms (200);
      tu_proc_signal (run.proc, signals[i]);
      g_assert_cmpint (run_wait (&run), ==, 128 + signals[i]);
      g_assert_cmpuint (tu_count (run_out (&run), "\n"), ==, 2);
      assert_nothing_left (&run);
      run_clear (&run);
    }
}

/* Every other signal that would end the harness ends the run as SIGTERM
 * does: the children are stopped, the folder removed, status 128+N. */
static void
test_signal_others (void)
{
  const int signals[] = { SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF,
                          SIGXCPU, SIGXFSZ, SIGIO, SIGSTKFLT, SIGPWR, SIGRTMIN,
                          SIGRTMAX };
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      Run run;
      g_autofree char *a = child ("idle");
      g_autofree char *b = child ("ignore-term");
      run_init (&run);
      run_start (&run, "--kill-timeout", "200ms", a, b);
      GPid pid_a = pid_of (&run, "A"), pid_b = pid_of (&run, "B");
      g_assert_true (tu_proc_wait_stdout (run.proc, "A: pid", WAIT_MS));
      g_assert_true (tu_proc_wait_stdout (run.proc, "B: pid", WAIT_MS));
      tu_proc_signal (run.proc, signals[i]);
      g_assert_cmpint (run_wait (&run), ==, 128 + signals[i]);
      g_assert_nonnull (strstr (run_err (&run), "stopping A (SIGTERM)"));
      g_assert_false (pid_alive (pid_a));
      g_assert_false (pid_alive (pid_b));
      assert_nothing_left (&run);
      run_clear (&run);
    }
}

/* A harness killed outright takes its children with it. */
static void
test_harness_killed (void)
{
  Run run;
  g_autofree char *a = child ("idle");
  g_autofree char *b = child ("ignore-term");
  run_init (&run);
  run_start (&run, a, b);
  GPid pid_a = pid_of (&run, "A"), pid_b = pid_of (&run, "B");
  g_assert_true (tu_proc_wait_stdout (run.proc, "B: pid", WAIT_MS));
  tu_proc_signal (run.proc, SIGKILL);
  g_assert_cmpint (run_wait (&run), ==, 128 + SIGKILL);
  assert_gone (pid_a);
  assert_gone (pid_b);
  run_clear (&run);
}

/* Children start with no signal blocked or ignored.  (Signals 32 and 33
 * are the C library's own: a harness started by a process that ignores
 * them, as some spawners leave them, keeps them ignored as it should.) */
static void
test_child_signals_default (void)
{
  Run run;
  run_init (&run);
  run_start (&run, "grep -E '^Sig(Blk|Ign)' /proc/self/status");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_auto (GStrv) lines = g_strsplit (run_out (&run), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_cmpstr (lines[0], ==, "A: SigBlk:\t0000000000000000");
  g_assert_true (g_str_has_prefix (lines[1], "A: SigIgn:\t"));
  guint64 ignored = g_ascii_strtoull (lines[1] + strlen ("A: SigIgn:\t"), NULL, 16);
  g_assert_cmpuint (ignored & ~(G_GUINT64_CONSTANT (3) << 31), ==, 0);
  run_clear (&run);
}

/* The signals process pid ignores, as /proc shows them. */
static guint64
ignored_signals (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *status = NULL;
  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  const char *at = strstr (status, "SigIgn:");
  g_assert_nonnull (at);
  return g_ascii_strtoull (at + strlen ("SigIgn:"), NULL, 16);
}

#define SIGNAL_BIT(signum) (G_GUINT64_CONSTANT (1) << ((signum) - 1))

/* Under nohup, SIGHUP does not end the run, and the children ignore it too. */
static void
test_signal_ignored_nohup (void)
{
  Run run;
  g_autofree char *a = child ("idle");
  run_init (&run);
  g_autofree char *runtime = g_strdup_printf ("XDG_RUNTIME_DIR=%s", run.tmp);
  const char *argv[] = { "nohup", PIPE_HARNESS, a, NULL };
  const char *env[] = { runtime, NULL };
  run.proc = tu_proc_start_full (argv, run.tmp, env, TU_PROC_DEFAULT);
  GPid pid_a = pid_of (&run, "A");
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: pid", WAIT_MS));
  tu_proc_signal (run.proc, SIGHUP);
  tu_sleep_ms (300);
  g_assert_true (tu_proc_running (run.proc));
  g_assert_true (pid_alive (pid_a));
  g_assert_cmphex (ignored_signals (pid_a) & SIGNAL_BIT (SIGHUP), ==, SIGNAL_BIT (SIGHUP));
  run_stop (&run);
  g_assert_false (pid_alive (pid_a));
}

/* Started with & by a script, SIGINT and SIGQUIT are ignored: they stay
 * so, for the harness and its children. */
static void
test_signal_ignored_background (void)
{
  Run run;
  g_autofree char *a = child ("idle");
  run_init (&run);
  g_autofree char *runtime = g_strdup_printf ("XDG_RUNTIME_DIR=%s", run.tmp);
  const char *argv[] = { "/bin/sh", "-c", "\"$0\" \"$@\" & echo \"harness $!\" >&2; wait $!",
                         PIPE_HARNESS, a, NULL };
  const char *env[] = { runtime, NULL };
  run.proc = tu_proc_start_full (argv, run.tmp, env, TU_PROC_DEFAULT);
  g_autofree char *harness = stderr_value (&run, "harness", " ");
  GPid pid = (GPid) g_ascii_strtoll (harness, NULL, 10);
  GPid pid_a = pid_of (&run, "A");
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: pid", WAIT_MS));
  kill (pid, SIGINT);
  kill (pid, SIGQUIT);
  tu_sleep_ms (300);
  g_assert_true (pid_alive (pid));
  g_assert_true (pid_alive (pid_a));
  guint64 both = SIGNAL_BIT (SIGINT) | SIGNAL_BIT (SIGQUIT);
  g_assert_cmphex (ignored_signals (pid) & both, ==, both);
  g_assert_cmphex (ignored_signals (pid_a) & both, ==, both);
  kill (pid, SIGTERM);
  g_assert_cmpint (run_wait (&run), ==, 128 + SIGTERM);
  g_assert_false (pid_alive (pid_a));
  assert_nothing_left (&run);
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* Input */

/* A memory figure of a running process, in KiB; 0 once it has exited. */
static guint64
proc_kib (GPid pid, const char *key)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *status = NULL;
  const char *at = NULL;
  if (g_file_get_contents (path, &status, NULL, NULL))
    at = strstr (status, key);
  return at ? g_ascii_strtoull (at + strlen (key), NULL, 10) : 0;
}

/* Megabytes pushed at a child that never reads: the writer waits, the
 * harness's memory stays bounded, the other child is answered. */
static void
test_child_never_reads (void)
{
  Run run;
  g_autofree char *a = child ("no-read");
  g_autofree char *b = child ("echo");
  run_init (&run);
  run_start (&run, a, b);
  g_autofree char *fifo_a = fifo_of (&run, "A");
  g_autofree char *fifo_b = fifo_of (&run, "B");
  g_autofree char *push = g_strdup_printf ("head -c 8000000 /dev/zero > '%s'", fifo_a);
  g_autoptr (TuProc) pusher = tu_proc_start ("/bin/sh", "-c", push, NULL);

  for (int i = 0; i < 50; i++)
    {
      g_autofree char *line = g_strdup_printf ("ping %d\n", i);
      g_autofree char *answer = g_strdup_printf ("B: got: ping %d\n", i);
      write_fifo (fifo_b, line);
      g_assert_true (tu_proc_wait_stdout (run.proc, answer, WAIT_MS));
    }
  g_assert_true (tu_proc_running (pusher)); /* held up, not dropped */
  g_assert_cmpuint (proc_kib (tu_proc_pid (run.proc), "VmHWM:"), <, 16 * 1024);
  run_stop (&run);
  tu_proc_wait (pusher, WAIT_MS); /* its FIFO's reader is gone */
}

/* Thousands of writers, one after another and then all at once: each
 * line arrives once, and the successive ones in order. */
static void
test_thousands_of_writers (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  run_init (&run);
  run_start (&run, a);
  g_autofree char *fifo = fifo_of (&run, "A");
  g_autofree char *one_by_one = g_strdup_printf (
    "for i in $(seq 1 2000); do echo s$i > '%s'; done", fifo);
  g_autofree char *all_at_once = g_strdup_printf (
    "for i in $(seq 1 1000); do echo c$i > '%s' & done; wait", fifo);
  const char *first[] = { "/bin/sh", "-c", one_by_one, NULL };
  const char *second[] = { "/bin/sh", "-c", all_at_once, NULL };

  g_assert_cmpint (tu_run (first, NULL, 60000, NULL, NULL), ==, 0);
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: got: s2000\n", WAIT_MS));
  g_assert_cmpint (tu_run (second, NULL, 60000, NULL, NULL), ==, 0);
  for (int i = 0; i < 200 && tu_count (run_out (&run), "\n") < 3000; i++)
    tu_sleep_ms (25);

  const char *out = run_out (&run);
  const char *previous = out;
  for (int i = 1; i <= 2000; i++)
    {
      g_autofree char *line = g_strdup_printf ("A: got: s%d\n", i);
      const char *at = strstr (previous, line);
      g_assert_nonnull (at); /* present, and after the one before */
      previous = at;
      g_assert_cmpuint (tu_count (out, line), ==, 1);
    }
  for (int i = 1; i <= 1000; i++)
    {
      g_autofree char *line = g_strdup_printf ("A: got: c%d\n", i);
      g_assert_cmpuint (tu_count (out, line), ==, 1);
    }
  g_assert_cmpuint (tu_count (out, "\n"), ==, 3000);
  run_stop (&run);
}

/* ------------------------------------------------------------------ */
/* Output */

/* One line of 50 MB without a newline: shown whole, in marked pieces. */
static void
test_huge_line (void)
{
  Run run;
  g_autofree char *a = child ("long 50000000");
  run_init (&run);
  run_start (&run, a);
  g_assert_cmpint (tu_proc_wait (run.proc, 60000), ==, 0);
  GString *out = tu_proc_stdout (run.proc);
  gsize xs = 0, pieces = 0;
  for (const char *p = out->str, *end = out->str + out->len; p < end; pieces++)
    {
      const char *nl = memchr (p, '\n', end - p);
      g_assert_nonnull (nl);
      g_assert_true (g_str_has_prefix (p, "A: "));
      gsize len = nl - p - 3;
      g_assert_cmpuint (len, <=, 65536);
      g_assert_cmpuint (strspn (p + 3, "x"), ==, len);
      xs += len;
      p = nl + 1;
    }
  g_assert_cmpuint (xs, ==, 50000000);
  g_assert_cmpuint (pieces, ==, (50000000 + 65535) / 65536);
  assert_nothing_left (&run);
  run_clear (&run);
}

/* Starts argv with tmp as its XDG_RUNTIME_DIR and its stdout on a pipe to
 * us (*out).  Not reaped. */
static GPid
spawn_with_stdout (const char *const *argv, const char *tmp, int *out)
{
  g_auto (GStrv) env = g_environ_setenv (g_get_environ (), "XDG_RUNTIME_DIR", tmp, TRUE);
  g_autoptr (GError) error = NULL;
  GPid pid;
  g_assert_true (g_spawn_async_with_pipes_and_fds (NULL, argv, (const char *const *) env,
                                                   G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                                   -1, -1, -1, NULL, NULL, 0, &pid, NULL,
                                                   out, NULL, &error));
  g_assert_no_error (error);
  return pid;
}

/* Runs the harness on command (beside an idle child), reading its stdout
 * slowly: before the first read and after every pause_every bytes, the
 * reader stops for pause_ms.  The child is slowed, not cut short, and memory
 * stays bounded.  Returns what was read. */
static char *
read_slowly (const char *command, gsize pause_every, guint pause_ms)
{
  g_autofree char *tmp = tu_tmpdir_new ();
  const char *argv[] = { PIPE_HARNESS, "-q", command, "sleep 100", NULL };
  int out;
  GPid pid = spawn_with_stdout (argv, tmp, &out);
  GString *got = g_string_new (NULL);
  char buf[65536];
  ssize_t n;
  guint64 peak_kib = 0;
  gsize since_pause = pause_every;
  for (;;)
    {
      if (since_pause >= pause_every)
        {
          g_usleep (pause_ms * 1000);
          since_pause = 0;
        }
      if ((n = read (out, buf, sizeof buf)) <= 0)
        break;
      g_string_append_len (got, buf, n);
      /* The peak since exec (getrusage would count the fork before it). */
      peak_kib = MAX (peak_kib, proc_kib (pid, "VmHWM:"));
      since_pause += n;
    }
  close (out);
  int status;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_cmpuint (peak_kib, >, 0);
  g_assert_cmpuint (peak_kib, <, 16 * 1024);
  g_autoptr (GDir) dir = g_dir_open (tmp, 0, NULL);
  g_assert_null (g_dir_read_name (dir));
  tu_tmpdir_remove (tmp);
  return g_string_free (got, FALSE);
}

/* A reader that takes only 64 KiB every 5 ms: every line arrives whole. */
static void
test_slow_stdout (void)
{
  g_autofree char *a = child ("flood 200000 64");
  g_autofree char *out = read_slowly (a, 1, 5);
  g_assert_cmpuint (flood_bytes (out, "A"), ==, 200000 * LINE_LEN);
}

/* A reader that stops for longer than the 100 ms after which an unfinished
 * line is shown, while the child writes lines in pieces that end anywhere
 * (seq writes 4 KiB at a time): time in which the harness is not reading,
 * because its stdout is full, does not count towards those 100 ms, and no
 * line is cut in two. */
static void
test_stalled_stdout (void)
{
  g_autofree char *out = read_slowly ("seq 1 400000", 256 * 1024, 150);
  long expected = 1;
  for (const char *p = out; *p != '\0'; expected++)
    {
      const char *nl = strchr (p, '\n');
      g_assert_nonnull (nl);
      g_autofree char *line = g_strndup (p, nl - p);
      g_autofree char *want = g_strdup_printf ("A: %ld", expected);
      g_assert_cmpstr (line, ==, want);
      p = nl + 1;
    }
  g_assert_cmpint (expected, ==, 400001);
}

/* The bytes process pid has read so far. */
static guint64
bytes_read (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/io", (int) pid);
  g_autofree char *io = NULL;
  const char *at = NULL;
  if (g_file_get_contents (path, &io, NULL, NULL))
    at = strstr (io, "rchar: ");
  return at ? g_ascii_strtoull (at + strlen ("rchar: "), NULL, 10) : 0;
}

/* The name of the i-th child: A … Z, AA, AB … */
static char *
child_name (guint i)
{
  return i < 26 ? g_strdup_printf ("%c", 'A' + i) : g_strdup_printf ("%c%c", 'A' + i / 26 - 1, 'A' + i % 26);
}

static int drain_until_exit (int read_fd, GString *got, GPid pid);

/* Reads what comes on read_fd (non-blocking) into got until it holds
 * length bytes. */
static void
read_until (int read_fd, GString *got, gsize length)
{
  char buf[65536];
  for (gint64 end = tu_now_us () + WAIT_MS * 1000; got->len < length;)
    {
      ssize_t n;
      while ((n = read (read_fd, buf, sizeof buf)) > 0)
        g_string_append_len (got, buf, n);
      if (got->len < length && tu_now_us () > end)
        g_error ("%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes came within %d ms",
                 got->len, length, WAIT_MS);
      if (got->len < length)
        g_usleep (5000);
    }
}

/* 64 children flood while nobody reads the harness's stdout: what the
 * harness takes from them and holds stays within a few MiB in all (each
 * stream's buffer alone would let it hold 16 MiB), and once stdout is read
 * again every line of every child arrives, whole and in order.  (The
 * children stay: the reads of a child the harness reaped would count as
 * its own.) */
static void
test_many_streams_held (void)
{
  enum { CHILDREN = 64, LINES = 3200 }; /* 200 KiB each, 12.5 MiB in all */
  g_autofree char *tmp = tu_tmpdir_new ();
  g_autofree char *a = child ("flood-then-wait 3200 64");
  const char *argv[CHILDREN + 3] = { PIPE_HARNESS, "-q" };
  for (guint i = 0; i < CHILDREN; i++)
    argv[2 + i] = a;
  int out;
  GPid pid = spawn_with_stdout (argv, tmp, &out);
  /* Unread, until the harness has taken more than its stdout holds and
   * then stopped reading for 300 ms. */
  guint64 taken = 0;
  for (int still = 0, tries = 0; still < 6 && tries < WAIT_MS / 50; tries++)
    {
      tu_sleep_ms (50);
      guint64 now = bytes_read (pid);
      still = now == taken && now > 1024 * 1024 ? still + 1 : 0;
      taken = now;
    }
  /* Its stdout pipe (1 MiB), a batch being written (512 KiB) and what it
   * holds (2 MiB, and a read past it), with room to spare. */
  g_test_message ("the harness took %" G_GUINT64_FORMAT " bytes", taken);
  g_assert_cmpuint (taken, >, 1024 * 1024);
  g_assert_cmpuint (taken, <, 6 * 1024 * 1024);

  gsize expected = 0;
  for (guint i = 0; i < CHILDREN; i++)
    expected += LINES * (LINE_LEN + (i < 26 ? 3 : 4)); /* "A: ", "AA: " */
  g_autoptr (GString) got = g_string_new (NULL);
  g_assert_true (g_unix_set_fd_nonblocking (out, TRUE, NULL));
  read_until (out, got, expected);
  kill (pid, SIGTERM);
  int status = drain_until_exit (out, got, pid);
  close (out);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 128 + SIGTERM);
  g_assert_cmpuint (got->len, ==, expected);
  for (guint i = 0; i < CHILDREN; i++)
    {
      g_autofree char *name = child_name (i);
      g_assert_cmpuint (flood_bytes (got->str, name), ==, LINES * LINE_LEN);
    }
  g_autoptr (GDir) dir = g_dir_open (tmp, 0, NULL);
  g_assert_null (g_dir_read_name (dir));
  tu_tmpdir_remove (tmp);
}

/* A child exits, leaving its pipe to a grandchild, while the other
 * children's lines fill what the harness may hold for a stdout nobody
 * reads: once stdout is read again, its exit is seen (its pipe is read to
 * the end of what it holds, not waited on), and the run ends with it, as
 * the first child to end ends it, rather than waiting for the grandchild
 * for ever (--timeout could not end it either). */
static void
test_exit_while_held (void)
{
  enum { FLOODS = 32 };
  g_autofree char *tmp = tu_tmpdir_new ();
  g_autofree char *a = child ("flood-then-wait 3200 64");
  g_autofree char *leaver = g_strdup_printf ("sh -c 'sleep 0.5; exec %s grandchild'",
                                             HARNESS_CHILD);
  const char *argv[FLOODS + 5] = { PIPE_HARNESS, "-q", "--timeout=2s", leaver };
  for (guint i = 0; i < FLOODS; i++)
    argv[4 + i] = a;
  int out;
  GPid pid = spawn_with_stdout (argv, tmp, &out);
  tu_sleep_ms (1500); /* unread: the children exit meanwhile */

  g_autoptr (GString) got = g_string_new (NULL);
  g_assert_true (g_unix_set_fd_nonblocking (out, TRUE, NULL));
  int status = drain_until_exit (out, got, pid);
  close (out);
  g_assert_true (WIFEXITED (status));
  g_test_message ("exit status %d", WEXITSTATUS (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0); /* A ended first, with 0 */
  const char *line = strstr (got->str, "A: grandchild ");
  g_assert_nonnull (line);
  assert_gone ((GPid) g_ascii_strtoll (line + strlen ("A: grandchild "), NULL, 10));
  g_autoptr (GDir) dir = g_dir_open (tmp, 0, NULL);
  g_assert_null (g_dir_read_name (dir));
  tu_tmpdir_remove (tmp);
}

/* Starts argv in folder cwd (also its XDG_RUNTIME_DIR), stdin /dev/null,
 * stdout and stderr on fd.  Not reaped: see drain_until_exit(). */
static GPid
spawn_onto (const char *const *argv, const char *cwd, int fd)
{
  g_auto (GStrv) env = g_environ_setenv (g_get_environ (), "XDG_RUNTIME_DIR", cwd, TRUE);
  g_autoptr (GError) error = NULL;
  GPid pid;
  g_spawn_async_with_pipes_and_fds (cwd, argv, (const char *const *) env,
                                    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
                                      G_SPAWN_STDIN_FROM_DEV_NULL,
                                    NULL, NULL, -1, fd, fd, NULL, NULL, 0, &pid,
                                    NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  return pid;
}

/* Reads what comes on read_fd (non-blocking) into got until pid has
 * exited; its wait status. */
static int
drain_until_exit (int read_fd, GString *got, GPid pid)
{
  char buf[65536];
  for (gint64 end = tu_now_us () + WAIT_MS * 1000; tu_now_us () < end;)
    {
      ssize_t n;
      int status;
      while ((n = read (read_fd, buf, sizeof buf)) > 0)
        g_string_append_len (got, buf, n);
      if (waitpid (pid, &status, WNOHANG) == pid)
        return status;
      g_usleep (5000);
    }
  g_error ("process %d did not exit within %d ms", (int) pid, WAIT_MS);
}

/* stdout is a pipe shared with another writer, and with the harness's own
 * stderr, and its reader comes late ("{ pipe-harness … & seq …; } 2>&1 |
 * slow-reader"): the other writer's lines all arrive, the harness's own
 * messages too, and the pipe is never made non-blocking under their feet. */
static void
test_shared_stdout (void)
{
  enum { SEQ_LINES = 400000 }; /* 2.7 MB: more than the harness's 1 MiB pipe */
  g_autofree char *tmp = tu_tmpdir_new ();
  g_autofree char *ready = g_build_filename (tmp, "ready", NULL);
  g_autofree char *seq_n = g_strdup_printf ("%d", SEQ_LINES);
  const char *harness_argv[] = { PIPE_HARNESS, "--shell", "touch ready; exec sleep 30", NULL };
  const char *seq_argv[] = { "seq", "1", seq_n, NULL };
  int p[2];

  g_assert_cmpint (pipe2 (p, O_CLOEXEC), ==, 0);
  GPid harness = spawn_onto (harness_argv, tmp, p[1]);
  for (int i = 0; i < 1000 && !g_file_test (ready, G_FILE_TEST_EXISTS); i++)
    tu_sleep_ms (10);
  g_assert_true (g_file_test (ready, G_FILE_TEST_EXISTS));
  int flags_during = fcntl (p[1], F_GETFL);

  GPid seq = spawn_onto (seq_argv, tmp, p[1]);
  tu_sleep_ms (300);          /* nobody reads: the pipe fills */
  kill (harness, SIGTERM);    /* the harness says so on its stderr */
  tu_sleep_ms (200);

  g_autoptr (GString) got = g_string_new (NULL);
  g_assert_true (g_unix_set_fd_nonblocking (p[0], TRUE, NULL));
  int seq_status = drain_until_exit (p[0], got, seq);
  int harness_status = drain_until_exit (p[0], got, harness);
  int flags_after = fcntl (p[1], F_GETFL);
  close (p[1]);
  tu_read_until_eof (p[0], WAIT_MS, got, NULL);
  close (p[0]);

  /* The harness's lines, whole, wherever seq's blocks left them. */
  g_autoptr (GString) numbers = g_string_new (NULL);
  g_autoptr (GString) messages = g_string_new (NULL);
  for (const char *at = got->str; *at != '\0';)
    {
      const char *mine = strstr (at, "pipe-harness: ");
      const char *end = mine ? strchr (mine, '\n') : NULL;
      if (mine == NULL || end == NULL)
        {
          g_string_append (numbers, at);
          break;
        }
      g_string_append_len (numbers, at, mine - at);
      g_string_append_len (messages, mine, end + 1 - mine);
      at = end + 1;
    }
  g_autoptr (GString) expected = g_string_new (NULL);
  for (int i = 1; i <= SEQ_LINES; i++)
    g_string_append_printf (expected, "%d\n", i);
  g_assert_cmpuint (numbers->len, ==, expected->len);
  g_assert_true (memcmp (numbers->str, expected->str, expected->len) == 0);
  g_assert_true (WIFEXITED (seq_status) && WEXITSTATUS (seq_status) == 0);
  g_assert_nonnull (strstr (messages->str, "pipe-harness: got Terminated; stopping\n"));
  g_assert_nonnull (strstr (messages->str, "pipe-harness: A was killed by signal 15"));
  g_assert_true (WIFEXITED (harness_status) && WEXITSTATUS (harness_status) == 128 + SIGTERM);
  g_assert_cmpint (flags_during & O_NONBLOCK, ==, 0);
  g_assert_cmpint (flags_after & O_NONBLOCK, ==, 0);
  assert_folder_holds (tmp, (const char *[]) { "ready", NULL });
  tu_tmpdir_remove (tmp);
}

/* ------------------------------------------------------------------ */
/* Children ending */

/* Two children exiting in the same instant: both are reported, both
 * outputs shown, and the status is one of theirs. */
static void
test_simultaneous_exits (void)
{
  for (int wait_all = 0; wait_all < 2; wait_all++)
    {
      Run run;
      gint64 at = (g_get_monotonic_time () + 500 * 1000) * 1000;
      g_autofree char *a_args = g_strdup_printf ("exit-at %" G_GINT64_FORMAT " 3", at);
      g_autofree char *b_args = g_strdup_printf ("exit-at %" G_GINT64_FORMAT " 5", at);
      g_autofree char *a = child (a_args);
      g_autofree char *b = child (b_args);
      run_init (&run);
      if (wait_all)
        run_start (&run, "--wait-all", a, b);
      else
        run_start (&run, a, b);
      GPid pid_a = pid_of (&run, "A"), pid_b = pid_of (&run, "B");
      int status = run_wait (&run);
      g_assert_true (status == 3 || status == 5);
      /* The child whose exit ended the run exited, and said goodbye. */
      const char *first = status == 3 ? "A" : "B";
      g_autofree char *bye = g_strdup_printf ("%s: bye\n", first);
      g_autofree char *exited = g_strdup_printf ("%s exited with status %d", first, status);
      g_assert_nonnull (strstr (run_out (&run), bye));
      g_assert_nonnull (strstr (run_err (&run), exited));
      /* The other exited too, or (a few microseconds late) was stopped. */
      const char *other = status == 3 ? "B" : "A";
      g_autofree char *other_exited = g_strdup_printf ("%s exited with status %d", other,
                                                       status == 3 ? 5 : 3);
      g_autofree char *other_stopped = g_strdup_printf ("%s was killed by signal 15", other);
      if (wait_all)
        g_assert_nonnull (strstr (run_err (&run), other_exited));
      else
        g_assert_true (strstr (run_err (&run), other_exited) != NULL ||
                       strstr (run_err (&run), other_stopped) != NULL);
      g_assert_false (pid_alive (pid_a));
      g_assert_false (pid_alive (pid_b));
      assert_nothing_left (&run);
      run_clear (&run);
    }
}

/* A process that left the child's group (setsid) keeps the output pipe
 * open: after SIGKILL and a grace second the harness says so and ends. */
static void
test_escaped_holder (void)
{
  Run run;
  run_init (&run);
  gint64 start = tu_now_us ();
  run_start (&run, "--shell", "--kill-timeout", "200ms",
             "setsid sh -c 'echo escaped $$; exec sleep 30' & sleep 0.2; echo bye");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_cmpint (tu_now_us () - start, <, 6 * G_USEC_PER_SEC);
  g_assert_nonnull (strstr (run_out (&run), "A: bye\n"));
  g_assert_nonnull (strstr (run_err (&run), "A's output is still held open by a process "
                                            "outside its group; not waiting for it"));
  const char *escaped = strstr (run_out (&run), "A: escaped ");
  g_assert_nonnull (escaped);
  kill ((pid_t) g_ascii_strtoll (escaped + strlen ("A: escaped "), NULL, 10), SIGKILL);
  assert_nothing_left (&run);
  run_clear (&run);
}

/* A child that exits at once, leaving a process of its group that writes
 * one line in three pieces while the run ends: the pieces make one line,
 * as the 100 ms rule says, whether the child is there or not. */
static void
test_pieces_while_ending (void)
{
  Run run;
  run_init (&run);
  run_start (&run, "--shell", "--kill-timeout", "3s",
             "trap '' TERM; (sleep 0.3; printf aaa; sleep 0.04; printf bbb; "
             "sleep 0.04; echo ccc) & exit 0",
             "sleep 100");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "A: aaabbbccc\n"));
  assert_nothing_left (&run);
  run_clear (&run);
}

/* A child prints lines of 64 KB as fast as it can while the script sleeps
 * and then expects a line that never comes, under a 400 MB limit on the
 * harness's memory: the lines kept for the search are bounded
 * (--match-max), the run is not cut short, and the step fails with its
 * report. */
static void
test_chatty_child_bounded (void)
{
#ifdef __SANITIZE_ADDRESS__
  g_test_skip ("AddressSanitizer needs more address space than the limit allows");
#else
  g_autofree char *tmp = tu_tmpdir_new ();
  g_autofree char *a = child ("flood-until-term 64000");
  g_autofree char *b = child ("idle");
  g_autofree char *script = g_build_filename (tmp, "t.script", NULL);
  g_autofree char *command = g_strdup_printf ("ulimit -v 400000; exec %s -q --script %s "
                                              "--exit-after-script '%s' '%s' > /dev/null",
                                              PIPE_HARNESS, script, a, b);
  g_autofree char *xdg = g_strdup_printf ("XDG_RUNTIME_DIR=%s", tmp);
  const char *argv[] = { "/bin/sh", "-c", command, NULL };
  const char *env[] = { xdg, NULL };

  g_assert_true (g_file_set_contents (script, "sleep 1.5\nexpect A /never/ 1\n", -1, NULL));
  g_autoptr (TuProc) proc = tu_proc_start_full (argv, tmp, env, TU_PROC_DEFAULT);
  g_assert_cmpint (tu_proc_wait (proc, 60000), ==, 3);
  const char *err = tu_proc_stderr (proc)->str;
  g_assert_nonnull (strstr (err, "t.script:2: expect A /never/ 1: no matching line within 1s"));
  g_assert_nonnull (strstr (err, "earlier lines left the window unsearched (--match-max)"));
  g_unlink (script);
  g_autoptr (GDir) dir = g_dir_open (tmp, 0, NULL);
  g_assert_null (g_dir_read_name (dir));
  tu_tmpdir_remove (tmp);
#endif
}

/* The harness itself dies of a crash signal (an allocation that failed
 * makes GLib abort): its children die with it and what it made is
 * removed. */
static void
test_crash_leaves_nothing (void)
{
  static const int signals[] = { SIGABRT, SIGSEGV };
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      Run run;
      g_autofree char *a = child ("idle");
      g_autofree char *b = child ("no-read");
      run_init (&run);
      run_start (&run, a, b);
      GPid pid_a = pid_of (&run, "A");
      GPid pid_b = pid_of (&run, "B");
      g_assert_true (tu_proc_wait_stdout (run.proc, "B: pid", WAIT_MS));
      tu_proc_signal (run.proc, signals[i]);
      g_assert_cmpint (run_wait (&run), ==, 128 + signals[i]);
      assert_gone (pid_a);
      assert_gone (pid_b);
      assert_nothing_left (&run);
      run_clear (&run);
    }
}

/* Starts pipe-harness as run_start_argv() does, under "ulimit LIMITS",
 * with env ("NAME=value", or NULL) added to its environment. */
static void
run_start_limited (Run *run, const char *limits, const char *env, const char *const *args)
{
  g_autofree char *script = g_strdup_printf ("ulimit %s && exec \"$0\" \"$@\"", limits);
  g_autofree char *runtime_dir = g_strdup_printf ("XDG_RUNTIME_DIR=%s", run->tmp);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) "/bin/sh");
  g_ptr_array_add (argv, (gpointer) "-c");
  g_ptr_array_add (argv, script);
  g_ptr_array_add (argv, (gpointer) PIPE_HARNESS);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  run->proc = tu_proc_start_full ((const char *const *) argv->pdata, run->tmp,
                                  (const char *const *) (const char *[]) { runtime_dir, env, NULL },
                                  TU_PROC_DEFAULT);
}

/* 300 children need more descriptors than the common soft limit of 1024
 * allows (about six each): the harness raises its own limit to the hard
 * one, and every child starts, with the soft limit as it was. */
static void
test_many_children (void)
{
  enum { N = 300 };
  struct rlimit nofile;
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &nofile), ==, 0);
  if (nofile.rlim_max < 4096)
    {
      g_test_skip ("the hard limit on open files is below 4096");
      return;
    }
  Run run;
  run_init (&run);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, (gpointer) "--shell");
  for (int i = 0; i < N; i++)
    g_ptr_array_add (args, (gpointer) "ulimit -Sn; exec sleep 30");
  g_ptr_array_add (args, NULL);
  run_start_limited (&run, "-Sn 1024", NULL, (const char *const *) args->pdata);
  for (gint64 end = tu_now_us () + WAIT_MS * 1000;
       tu_count (run_out (&run), "\n") < N && tu_proc_running (run.proc) && tu_now_us () < end;)
    tu_sleep_ms (20);
  g_assert_cmpuint (tu_count (run_out (&run), ": 1024\n"), ==, N);
  g_assert_cmpuint (tu_count (run_err (&run), " started (pid "), ==, N);
  run_stop (&run);
}

/* Descriptors run out (a hard limit too low to raise): 127, one line that
 * says so, and nothing left behind.  With 30 children the FIFOs take them
 * all; with 10, some children start first, and are stopped. */
static void
test_out_of_files (void)
{
  static const int counts[] = { 30, 10 };
  for (guint c = 0; c < G_N_ELEMENTS (counts); c++)
    {
      Run run;
      g_autofree char *idle = child ("idle");
      g_autoptr (GPtrArray) args = g_ptr_array_new ();
      for (int i = 0; i < counts[c]; i++)
        g_ptr_array_add (args, idle);
      g_ptr_array_add (args, NULL);
      run_init (&run);
      run_start_limited (&run, "-n 40", NULL, (const char *const *) args->pdata);
      g_assert_cmpint (run_wait (&run), ==, 127);

      const char *err = run_err (&run);
      g_assert_cmpuint (tu_count (err, "pipe-harness: too many open files (limit 40): "
                                       "cannot start child "), ==, 1);
      g_assert_cmpuint (tu_count (err, "cannot"), ==, 1);
      for (const char *at = strstr (err, " started (pid "); at != NULL;
           at = strstr (at + 1, " started (pid "))
        assert_gone ((GPid) g_ascii_strtoll (at + strlen (" started (pid "), NULL, 10));
      if (counts[c] == 10)
        g_assert_cmpuint (tu_count (err, " started (pid "), >, 0);
      assert_folder_holds (run.tmp, NULL);
      run_clear (&run);
    }
}

/* However few descriptors the harness may open, it never aborts: each
 * limit from 4 (three past stdio) to 32 ends the run with 0, or with 127
 * and one line naming what ran out, and leaves nothing behind. */
static void
test_few_files (void)
{
  g_autofree char *bye = child ("exit 0");
  const char *args[] = { "-q", bye, bye, NULL };
  /* A sanitized harness's leak check needs descriptors of its own at the
   * end, which a run out of them does not leave it. */
  const char *sanitizer = g_getenv ("ASAN_OPTIONS");
  g_autofree char *no_leak_check = g_strdup_printf ("ASAN_OPTIONS=%s%sdetect_leaks=0",
                                                    sanitizer ? sanitizer : "",
                                                    sanitizer ? ":" : "");
  for (int limit = 4; limit <= 32; limit++)
    {
      Run run;
      g_autofree char *limits = g_strdup_printf ("-n %d", limit);
      run_init (&run);
      run_start_limited (&run, limits, no_leak_check, args);
      int status = run_wait (&run);
      const char *err = run_err (&run);
      g_test_message ("limit %d: status %d, %s", limit, status, err);
      g_assert_true (status == 0 || status == 127);
      if (status == 127)
        {
          g_assert_cmpuint (tu_count (err, "\n"), ==, 1);
          g_assert_true (strstr (err, "oo many open files") != NULL);
        }
      assert_folder_holds (run.tmp, NULL);
      run_clear (&run);
    }
}

/* A second signal while stopping: SIGKILL at once, no waiting for the
 * kill timeout. */
static void
test_second_signal (void)
{
  Run run;
  g_autofree char *a = child ("ignore-term");
  run_init (&run);
  run_start (&run, "--kill-timeout", "20s", a);
  GPid pid_a = pid_of (&run, "A");
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: pid", WAIT_MS));
  tu_proc_signal (run.proc, SIGTERM);
  g_assert_true (tu_proc_wait_stderr (run.proc, "stopping A (SIGTERM)", WAIT_MS));
  gint64 second = tu_now_us ();
  tu_proc_signal (run.proc, SIGINT);
  g_assert_cmpint (run_wait (&run), ==, 128 + SIGTERM); /* the first reason's */
  g_assert_cmpint (tu_now_us () - second, <, 5 * G_USEC_PER_SEC);
  g_assert_nonnull (strstr (run_err (&run), "stopping A (SIGKILL)"));
  g_assert_false (pid_alive (pid_a));
  assert_nothing_left (&run);
  run_clear (&run);
}

/* stdout that fails (a full disk): one line, status 1, all cleaned up. */
static void
test_stdout_fails (void)
{
  g_autofree char *tmp = tu_tmpdir_new ();
  g_autofree char *script = g_strdup_printf (
    "XDG_RUNTIME_DIR='%s' '%s' '%s flood 1000 64' 'sleep 100' > /dev/full; echo \"status $?\"",
    tmp, PIPE_HARNESS, HARNESS_CHILD);
  const char *argv[] = { "/bin/bash", "-c", script, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, &out, &err), ==, 0);
  g_assert_cmpstr (out, ==, "status 1\n");
  g_assert_nonnull (strstr (err, "pipe-harness: cannot write the output: No space left on device\n"));
  g_autoptr (GDir) dir = g_dir_open (tmp, 0, NULL);
  g_assert_null (g_dir_read_name (dir));
  tu_tmpdir_remove (tmp);
}

/* A log that fails: said once, and the run goes on without it. */
static void
test_log_fails (void)
{
  Run run;
  g_autofree char *a = child ("flood 1000 64");
  run_init (&run);
  run_start (&run, "--log", "/dev/full", a);
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_cmpuint (tu_count (run_err (&run), "cannot write the log any more: No space left on device"), ==, 1);
  g_assert_cmpuint (flood_bytes (run_out (&run), "A"), ==, 1000 * LINE_LEN);
  assert_nothing_left (&run);
  run_clear (&run);
}

/* A log FIFO whose reader stops reading: the run goes on at full speed, a
 * signal takes effect at once, and the lines the log could not take are
 * counted, once. */
static void
test_log_stalls (void)
{
  Run run;
  g_autofree char *a = child ("flood-until-term 64");
  run_init (&run);
  g_autofree char *log = g_build_filename (run.tmp, "log", NULL);
  tu_mkfifo (log);
  int reader = tu_fifo_open_read (log, TRUE); /* and never reads */
  run_start (&run, "--quiet", "--log", log, a);
  /* Far more than the log's pipe and backlog together. */
  for (gint64 end = tu_now_us () + WAIT_MS * 1000;
       tu_proc_stdout (run.proc)->len < 16 * 1024 * 1024 && tu_now_us () < end;)
    tu_sleep_ms (5);
  g_assert_cmpuint (tu_proc_stdout (run.proc)->len, >=, 16 * 1024 * 1024);

  gint64 signalled = tu_now_us ();
  tu_proc_signal (run.proc, SIGTERM);
  g_assert_cmpint (run_wait (&run), ==, 128 + SIGTERM);
  g_assert_cmpint (tu_now_us () - signalled, <, 3 * G_USEC_PER_SEC);
  const char *out = run_out (&run);
  g_assert_cmpuint (flood_bytes (out, "A"), ==, reported_bytes (out, "A"));
  const char *err = run_err (&run);
  g_assert_true (g_str_has_prefix (err, "pipe-harness: "));
  guint64 dropped = g_ascii_strtoull (err + strlen ("pipe-harness: "), NULL, 10);
  g_assert_cmpuint (dropped, >, 0);
  g_autofree char *said = g_strdup_printf ("pipe-harness: %" G_GUINT64_FORMAT " log lines "
                                           "were dropped: the log could not keep up\n",
                                           dropped);
  g_assert_cmpstr (err, ==, said);
  close (reader);
  assert_nothing_left (&run);
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* Hostile paths */

/* The path is checked, then something else is swapped in just before the
 * harness opens it: refused, and left as it is. */
static void
swapped_in (const char *what, gboolean symlink_to_file)
{
  Run run;
  run_init (&run);
  g_autofree char *path = g_build_filename (run.tmp, "input", NULL);
  g_autofree char *swap = g_build_filename (run.tmp, "swap", NULL);
  g_autofree char *precious = g_build_filename (run.tmp, "precious", NULL);
  g_autofree char *fifo_opt = g_strdup_printf ("A=%s", path);
  g_autofree char *swap_path = g_strdup_printf ("SWAP_PATH=%s", path);
  g_autofree char *swap_with = g_strdup_printf ("SWAP_WITH=%s", swap);
  const char *env[] = { "LD_PRELOAD=" SWAP_SHIM, swap_path, swap_with,
                        "ASAN_OPTIONS=verify_asan_link_order=0", NULL };
  const char *args[] = { "--fifo", fifo_opt, "true", NULL };
  GStatBuf st;

  tu_mkfifo (path);
  write_file (run.tmp, "precious", "keep me\n");
  if (symlink_to_file)
    g_assert_cmpint (symlink (precious, swap), ==, 0);
  else
    tu_mkfifo (swap);
  run_start_full (&run, env, args);
  g_assert_cmpint (run_wait (&run), ==, 2);
  g_autofree char *expected = g_strdup_printf ("pipe-harness: %s %s; refusing to use it "
                                               "(left untouched)\n", path, what);
  g_assert_cmpstr (run_err (&run), ==, expected);
  g_assert_cmpint (g_lstat (path, &st), ==, 0);
  g_assert_true (symlink_to_file ? S_ISLNK (st.st_mode) : S_ISFIFO (st.st_mode));
  g_autofree char *content = NULL;
  g_assert_true (g_file_get_contents (precious, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "keep me\n");
  assert_nothing_left (&run);
  run_clear (&run);
}

static void
test_swap_symlink (void)
{
  swapped_in ("is a symbolic link", TRUE);
}

static void
test_swap_other_fifo (void)
{
  swapped_in ("was replaced while it was being opened", FALSE);
}

/* A --fifo-dir we may not write to: one line, status 2, nothing made. */
static void
test_unwritable_fifo_dir (void)
{
  Run run;
  run_init (&run);
  g_autofree char *locked = g_build_filename (run.tmp, "locked", NULL);
  g_assert_cmpint (g_mkdir (locked, 0555), ==, 0);
  g_chmod (run.tmp, 0755); /* so that nobody may get to it */
  g_autofree char *expected = g_strdup_printf ("pipe-harness: cannot make FIFO %s/A: "
                                               "Permission denied\n", locked);
  if (geteuid () == 0)
    {
      /* root writes anywhere: be nobody for this one */
      const char *args[] = { "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                             PIPE_HARNESS, "--fifo-dir", locked, "true", NULL };
      g_autofree char *err = NULL;
      g_assert_cmpint (tu_run (args, NULL, WAIT_MS, NULL, &err), ==, 2);
      g_assert_cmpstr (err, ==, expected);
    }
  else
    {
      run_start (&run, "--fifo-dir", locked, "true");
      g_assert_cmpint (run_wait (&run), ==, 2);
      g_assert_cmpstr (run_err (&run), ==, expected);
    }
  assert_folder_holds (locked, NULL);
  g_chmod (locked, 0700);
  run_clear (&run);
}

/* A second harness given the FIFO folder, or a FIFO, of a live one is
 * refused, and the first one's run goes on untouched. */
static void
test_fifos_in_use (void)
{
  Run first, second;
  g_autofree char *a = child ("echo");
  run_init (&first);
  g_autofree char *shared = g_build_filename (first.tmp, "shared", NULL);
  g_autofree char *fifo = g_build_filename (shared, "A", NULL);
  g_autofree char *fifo_opt = g_strdup_printf ("A=%s", fifo);
  run_start (&first, "--fifo-dir", shared, a);
  g_autofree char *reported = fifo_of (&first, "A");
  g_assert_cmpstr (reported, ==, fifo);

  run_init (&second);
  run_start (&second, "--fifo-dir", shared, a);
  g_assert_cmpint (run_wait (&second), ==, 2);
  g_autofree char *dir_refused = g_strdup_printf (
    "pipe-harness: --fifo-dir %s is in use by another pipe-harness; refusing to use it\n", shared);
  g_assert_cmpstr (run_err (&second), ==, dir_refused);
  run_clear (&second);

  run_init (&second);
  run_start (&second, "--fifo", fifo_opt, a);
  g_assert_cmpint (run_wait (&second), ==, 2);
  g_autofree char *fifo_refused = g_strdup_printf (
    "pipe-harness: %s is in use by another pipe-harness; refusing to use it "
    "(left untouched)\n", fifo);
  g_assert_cmpstr (run_err (&second), ==, fifo_refused);
  assert_nothing_left (&second);
  run_clear (&second);

  write_fifo (fifo, "still mine\n");
  g_assert_true (tu_proc_wait_stdout (first.proc, "A: got: still mine\n", WAIT_MS));
  g_assert_cmpuint (tu_count (run_out (&first), "\n"), ==, 1);
  tu_proc_signal (first.proc, SIGTERM);
  g_assert_cmpint (run_wait (&first), ==, 128 + SIGTERM);
  g_assert_false (g_file_test (shared, G_FILE_TEST_EXISTS)); /* it made it */
  run_clear (&first);
}

/* ------------------------------------------------------------------ */
/* Hostile scripts and command lines */

/* A send step of a megabyte goes through whole. */
static void
test_huge_script_line (void)
{
  Run run;
  run_init (&run);
  g_autoptr (GString) script = g_string_new ("send A ");
  for (int i = 0; i < 1024 * 1024; i++)
    g_string_append_c (script, 'y');
  g_string_append (script, "\nclose A\nwait A\n");
  write_file (run.tmp, "t.script", script->str);
  run_start (&run, "--script", "t.script", "--exit-after-script", "wc -c");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "A: 1048577\n"));
  run_clear (&run);
}

/* A script that sends 40 MB to a child that reads slowly waits for it: the
 * harness's memory stays bounded and everything arrives. */
static void
test_script_sends_to_slow_reader (void)
{
  Run run;
  run_init (&run);
  g_autoptr (GString) line = g_string_new ("send A ");
  for (int i = 0; i < 4000; i++)
    g_string_append_c (line, 'z');
  g_autofree char *script = g_strdup_printf ("repeat 10000\n%s\nend\nclose A\n"
                                             "expect A /^40010000$/ 30\n", line->str);
  write_file (run.tmp, "t.script", script);
  run_start (&run, "--shell", "--script", "t.script", "--exit-after-script",
             "sleep 1; wc -c");
  GPid harness = tu_proc_pid (run.proc);
  guint64 peak_kib = 0;
  while (tu_proc_running (run.proc))
    {
      peak_kib = MAX (peak_kib, proc_kib (harness, "VmHWM:"));
      tu_sleep_ms (50);
    }
  g_assert_cmpint (run_wait (&run), ==, 0);
#ifndef __SANITIZE_ADDRESS__ /* which keeps freed memory in quarantine */
  g_assert_cmpuint (peak_kib, <, 24 * 1024);
#endif
  run_clear (&run);
}

/* A regex too large for GRegex: refused before anything starts. */
static void
test_huge_regex (void)
{
  Run run;
  run_init (&run);
  g_autoptr (GString) script = g_string_new ("expect A /");
  for (int i = 0; i < 200000; i++)
    g_string_append (script, "(a|b)");
  g_string_append (script, "/\n");
  write_file (run.tmp, "t.script", script->str);
  run_start (&run, "--script", "t.script", "true");
  g_assert_cmpint (run_wait (&run), ==, 2);
  g_assert_true (g_str_has_prefix (run_err (&run), "pipe-harness: t.script:1: bad regex /(a|b)"));
  g_assert_cmpuint (tu_count (run_err (&run), "\n"), ==, 1);
  assert_nothing_left (&run);
  run_clear (&run);
}

/* A command line too long for exec: 127, and nothing left behind. */
static void
test_huge_command (void)
{
  Run run;
  run_init (&run);
  g_autoptr (GString) procfile = g_string_new ("first: sleep 100\nhuge: echo ");
  for (int i = 0; i < 300 * 1024; i++)
    g_string_append_c (procfile, 'z');
  g_string_append_c (procfile, '\n');
  write_file (run.tmp, "Procfile", procfile->str);
  run_start (&run, "--procfile", "Procfile");
  GPid first = pid_of (&run, "first");
  g_assert_cmpint (run_wait (&run), ==, 127);
  g_assert_nonnull (strstr (run_err (&run), "pipe-harness: huge: cannot start: /bin/sh: Argument list too long\n"));
  g_assert_false (pid_alive (first));
  assert_nothing_left (&run);
  run_clear (&run);
}

/* An empty --kill-timeout is a usage error, said in one line; a bare
 * number is seconds. */
static void
test_empty_kill_timeout (void)
{
  Run run;
  run_init (&run);
  run_start (&run, "--kill-timeout=", "true");
  g_assert_cmpint (run_wait (&run), ==, 2);
  g_assert_cmpstr (run_err (&run), ==, "pipe-harness: --kill-timeout: no time given "
                                       "(write it like 250ms, 2s or 5)\n");
  assert_nothing_left (&run);
  run_clear (&run);

  run_init (&run);
  run_start (&run, "--kill-timeout=1", "true");
  g_assert_cmpint (run_wait (&run), ==, 0);
  run_clear (&run);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/faults/signal/mid-flood", test_signal_mid_flood);
  g_test_add_func ("/faults/signal/after-quiet", test_signal_after_quiet);
  g_test_add_func ("/faults/signal/others", test_signal_others);
  g_test_add_func ("/faults/signal/harness-killed", test_harness_killed);
  g_test_add_func ("/faults/signal/child-defaults", test_child_signals_default);
  g_test_add_func ("/faults/signal/ignored-nohup", test_signal_ignored_nohup);
  g_test_add_func ("/faults/signal/ignored-background", test_signal_ignored_background);
  g_test_add_func ("/faults/input/child-never-reads", test_child_never_reads);
  g_test_add_func ("/faults/input/thousands-of-writers", test_thousands_of_writers);
  g_test_add_func ("/faults/output/huge-line", test_huge_line);
  g_test_add_func ("/faults/output/slow-stdout", test_slow_stdout);
  g_test_add_func ("/faults/output/stalled-stdout", test_stalled_stdout);
  g_test_add_func ("/faults/output/many-streams-held", test_many_streams_held);
  g_test_add_func ("/faults/children/exit-while-held", test_exit_while_held);
  g_test_add_func ("/faults/children/simultaneous-exits", test_simultaneous_exits);
  g_test_add_func ("/faults/children/escaped-holder", test_escaped_holder);
  g_test_add_func ("/faults/children/second-signal", test_second_signal);
  g_test_add_func ("/faults/children/pieces-while-ending", test_pieces_while_ending);
  g_test_add_func ("/faults/script/chatty-child-bounded", test_chatty_child_bounded);
  g_test_add_func ("/faults/crash/leaves-nothing", test_crash_leaves_nothing);
  g_test_add_func ("/faults/output/shared-stdout", test_shared_stdout);
  g_test_add_func ("/faults/children/many", test_many_children);
  g_test_add_func ("/faults/children/out-of-files", test_out_of_files);
  g_test_add_func ("/faults/resources/few-files", test_few_files);
  g_test_add_func ("/faults/output/stdout-fails", test_stdout_fails);
  g_test_add_func ("/faults/output/log-fails", test_log_fails);
  g_test_add_func ("/faults/output/log-stalls", test_log_stalls);
  g_test_add_func ("/faults/path/swapped-symlink", test_swap_symlink);
  g_test_add_func ("/faults/path/swapped-fifo", test_swap_other_fifo);
  g_test_add_func ("/faults/path/unwritable-fifo-dir", test_unwritable_fifo_dir);
  g_test_add_func ("/faults/path/fifos-in-use", test_fifos_in_use);
  g_test_add_func ("/faults/script/huge-line", test_huge_script_line);
  g_test_add_func ("/faults/script/huge-regex", test_huge_regex);
  g_test_add_func ("/faults/script/sends-to-slow-reader", test_script_sends_to_slow_reader);
  g_test_add_func ("/faults/usage/huge-command", test_huge_command);
  g_test_add_func ("/faults/usage/empty-kill-timeout", test_empty_kill_timeout);
  return g_test_run ();
}
