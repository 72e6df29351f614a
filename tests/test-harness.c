/* Integration tests of pipe-harness: the built tool, run with
 * tests/harness-child (and netcat) as its children, over real pipes and
 * FIFOs in a private temporary folder.  Each test checks what a user is
 * promised: marked whole lines, nothing lost, input that survives its
 * writers, clean endings with the documented statuses, refused paths left
 * untouched, and scripts that pass or fail by their line. */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness-run.h"

/* ------------------------------------------------------------------ */
/* Output */

static void
test_output_marked (void)
{
  Run run;
  run_init (&run);
  run_start (&run, "--wait-all", "--shell", "echo out; echo err >&2", "printf 'one\\ntwo\\n'");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "A: out\n"));
  g_assert_nonnull (strstr (run_out (&run), "A! err\n"));
  g_assert_nonnull (strstr (run_out (&run), "B: one\nB: two\n"));
  g_assert_nonnull (strstr (run_err (&run), "pipe-harness: A exited with status 0\n"));
  assert_folder_holds (run.tmp, NULL);
  run_clear (&run);
}

static void
test_output_merge_stderr_and_names (void)
{
  Run run;
  run_init (&run);
  run_start (&run, "--shell", "--merge-stderr", "--names", "srv", "echo out; echo err >&2");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "srv: out\n"));
  g_assert_nonnull (strstr (run_out (&run), "srv: err\n"));
  run_clear (&run);
}

/* Checks that out holds exactly n lines from child name, as harness-child
 * flood wrote them (the odd ones odd_len bytes long), whole and in order. */
static void
assert_flood_mixed (const char *out, const char *name, long n, long len, long odd_len)
{
  g_autofree char *mark = g_strdup_printf ("%s: ", name);
  g_autofree char *expected = g_malloc (MAX (len, odd_len) + 1);
  long seen = 0;

  for (const char *p = out; *p != '\0';)
    {
      const char *nl = strchr (p, '\n');
      g_assert_nonnull (nl);
      if (g_str_has_prefix (p, mark))
        {
          const char *body = p + strlen (mark);
          long line_len = seen % 2 == 0 ? len : odd_len;
          int k = g_snprintf (expected, 12, "%09ld ", seen);
          memset (expected + k, 'a' + (char) (seen % 26), line_len - 1 - k);
          expected[line_len - 1] = '\n';
          g_assert_cmpmem (body, nl + 1 - body, expected, line_len);
          seen++;
        }
      p = nl + 1;
    }
  g_assert_cmpint (seen, ==, n);
}

static void
assert_flood (const char *out, const char *name, long n, long len)
{
  assert_flood_mixed (out, name, n, len, len);
}

/* Children flooding at once: every line whole, marked, in order, none
 * lost.  Every other line of C is too long to be copied into a batch, so
 * batches mix copied lines and lines written from where they lie. */
static void
test_output_flood (void)
{
  Run run;
  g_autofree char *a = child ("flood 40000 100");
  g_autofree char *b = child ("flood 60000 37");
  g_autofree char *c = child ("flood 6000 40 900");
  run_init (&run);
  run_start (&run, "--wait-all", a, b, c);
  g_assert_cmpint (run_wait (&run), ==, 0);
  assert_flood (run_out (&run), "A", 40000, 100);
  assert_flood (run_out (&run), "B", 60000, 37);
  assert_flood_mixed (run_out (&run), "C", 6000, 40, 900);
  run_clear (&run);
}

/* A prompt without a newline shows after about 100 ms, on a line of its
 * own. */
static void
test_output_partial_line (void)
{
  Run run;
  g_autofree char *a = child ("partial 'name? '");
  run_init (&run);
  run_start (&run, a);
  g_assert_true (tu_proc_wait_stderr (run.proc, "A started", WAIT_MS));
  gint64 started = tu_now_us ();
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: name? \n", WAIT_MS));
  gint64 shown = tu_proc_stdout_arrival (run.proc, 0);
  g_assert_cmpint (shown - started, <, 600 * 1000);
  g_assert_cmpint (shown - started, >=, 50 * 1000);
  tu_proc_close_stdin (run.proc);
  tu_proc_signal (run.proc, SIGTERM);
  g_assert_cmpint (run_wait (&run), ==, 128 + SIGTERM);
  g_assert_cmpstr (run_out (&run), ==, "A: name? \n");
  run_clear (&run);
}

/* A line written in two parts 30 ms apart comes out as one line. */
static void
test_output_split_write_joined (void)
{
  Run run;
  g_autofree char *a = child ("split hel lo 30");
  run_init (&run);
  run_start (&run, a);
  g_assert_true (tu_proc_wait_stdout (run.proc, "\n", WAIT_MS));
  tu_proc_signal (run.proc, SIGTERM);
  run_wait (&run);
  g_assert_cmpstr (run_out (&run), ==, "A: hello\n");
  run_clear (&run);
}

static void
test_output_bytes_unchanged (void)
{
  static const char expected[] = "A: nul\0here \xff\xfe bad\r cr\n";
  Run run;
  g_autofree char *a = child ("bytes");
  run_init (&run);
  run_start (&run, a);
  g_assert_cmpint (run_wait (&run), ==, 0);
  GString *out = tu_proc_stdout (run.proc);
  g_assert_cmpmem (out->str, out->len, expected, sizeof expected - 1);
  run_clear (&run);
}

/* A line longer than 64 KiB comes out in marked pieces of 64 KiB. */
static void
test_output_long_line (void)
{
  Run run;
  g_autofree char *a = child ("long 200000");
  run_init (&run);
  run_start (&run, a);
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_auto (GStrv) lines = g_strsplit (run_out (&run), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 5); /* 4 pieces, then "" */
  gsize total = 0;
  for (guint i = 0; i < 4; i++)
    {
      g_assert_true (g_str_has_prefix (lines[i], "A: x"));
      gsize len = strlen (lines[i]) - 3;
      g_assert_cmpuint (len, ==, i < 3 ? 65536 : 200000 - 3 * 65536);
      g_assert_cmpuint (strspn (lines[i] + 3, "x"), ==, len);
      total += len;
    }
  g_assert_cmpuint (total, ==, 200000);
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* Input */

static void
test_input_successive_writers (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  g_autoptr (GString) expected = g_string_new (NULL);
  run_init (&run);
  run_start (&run, a);
  g_autofree char *fifo = fifo_of (&run, "A");
  g_assert_nonnull (fifo);

  for (int i = 0; i < 200; i++)
    {
      g_autofree char *msg = g_strdup_printf ("message %d\n", i);
      write_fifo (fifo, msg);
      g_string_append_printf (expected, "A: got: message %d\n", i);
    }
  g_assert_true (tu_proc_wait_stdout (run.proc, "message 199\n", WAIT_MS));
  tu_proc_signal (run.proc, SIGINT);
  g_assert_cmpint (run_wait (&run), ==, 128 + SIGINT);
  g_assert_cmpstr (run_out (&run), ==, expected->str);
  run_clear (&run);
}

static void
test_input_concurrent_writers (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  TuProc *writers[20];
  run_init (&run);
  run_start (&run, a);
  g_autofree char *fifo = fifo_of (&run, "A");

  for (int w = 0; w < 20; w++)
    {
      g_autofree char *script = g_strdup_printf (
        "for i in $(seq 1 50); do echo w%d-$i; done > '%s'", w, fifo);
      writers[w] = tu_proc_start ("/bin/sh", "-c", script, NULL);
    }
  for (int w = 0; w < 20; w++)
    {
      g_assert_cmpint (tu_proc_wait (writers[w], WAIT_MS), ==, 0);
      tu_proc_free (writers[w]);
    }
  g_assert_true (tu_proc_wait_stdout (run.proc, "", WAIT_MS));
  for (int i = 0; i < 200 && tu_count (run_out (&run), "\n") < 1000; i++)
    tu_sleep_ms (20);
  for (int w = 0; w < 20; w++)
    for (int i = 1; i <= 50; i++)
      {
        g_autofree char *line = g_strdup_printf ("A: got: w%d-%d\n", w, i);
        g_assert_cmpuint (tu_count (run_out (&run), line), ==, 1);
      }
  run_stop (&run);
}

/* A child that never reads: its input is held to a bound, then writers
 * wait; the other child is not held up. */
static void
test_input_bounded_queue (void)
{
  Run run;
  g_autofree char *a = child ("no-read");
  g_autofree char *b = child ("echo");
  char chunk[4096];
  gsize written = 0;
  run_init (&run);
  run_start (&run, a, b);
  g_autofree char *fifo_a = fifo_of (&run, "A");
  g_autofree char *fifo_b = fifo_of (&run, "B");

  memset (chunk, 'q', sizeof chunk);
  int fd = tu_fifo_open_write (fifo_a, WAIT_MS);
  g_assert_true (g_unix_set_fd_nonblocking (fd, TRUE, NULL));
  /* Write until the FIFO stays full for 300 ms. */
  for (gint64 last_progress = tu_now_us (); tu_now_us () - last_progress < 300000;)
    {
      ssize_t n = write (fd, chunk, sizeof chunk);
      if (n > 0)
        {
          written += n;
          last_progress = tu_now_us ();
          g_assert_cmpuint (written, <, 8 * 1024 * 1024);
        }
      else
        tu_sleep_ms (10);
    }
  /* The harness's queue, the child's stdin pipe and the FIFO itself. */
  g_assert_cmpuint (written, >=, 64 * 1024);
  g_assert_cmpuint (written, <=, 64 * 1024 + 1024 * 1024 + 64 * 1024 + sizeof chunk);

  write_fifo (fifo_b, "still here\n");
  g_assert_true (tu_proc_wait_stdout (run.proc, "B: got: still here\n", WAIT_MS));
  close (fd);
  run_stop (&run);
}

/* A child that closed its stdin: what is written for it is reported as not
 * delivered, and the run goes on. */
static void
test_input_child_closed_stdin (void)
{
  Run run;
  g_autofree char *a = child ("close-stdin");
  g_autofree char *b = child ("echo");
  run_init (&run);
  run_start (&run, a, b);
  g_autofree char *fifo_a = fifo_of (&run, "A");
  g_autofree char *fifo_b = fifo_of (&run, "B");
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: closed\n", WAIT_MS));

  write_fifo (fifo_a, "nobody reads this\n");
  g_assert_true (tu_proc_wait_stderr (run.proc, "A stopped reading its input", WAIT_MS));
  write_fifo (fifo_b, "ping\n");
  g_assert_true (tu_proc_wait_stdout (run.proc, "B: got: ping\n", WAIT_MS));
  run_stop (&run);
}

/* ------------------------------------------------------------------ */
/* Lifecycle and exit status */

static void
test_lifecycle_first_exit_ends (void)
{
  Run run;
  g_autofree char *a = child ("idle");
  g_autofree char *b = child ("exit 3");
  run_init (&run);
  run_start (&run, a, b);
  GPid pid_a = pid_of (&run, "A");
  g_assert_cmpint (run_wait (&run), ==, 3);
  g_assert_nonnull (strstr (run_out (&run), "B: bye\n"));
  g_assert_nonnull (strstr (run_err (&run), "B exited with status 3"));
  g_assert_nonnull (strstr (run_err (&run), "stopping A (SIGTERM)"));
  g_assert_false (pid_alive (pid_a));
  assert_folder_holds (run.tmp, NULL);
  run_clear (&run);
}

/* Everything a child printed before it exited is read to the end before
 * the harness stops. */
static void
test_lifecycle_drain_before_exit (void)
{
  Run run;
  g_autofree char *a = child ("flood 100000 64");
  g_autofree char *b = child ("idle");
  run_init (&run);
  run_start (&run, a, b);
  g_assert_cmpint (run_wait (&run), ==, 0);
  assert_flood (run_out (&run), "A", 100000, 64);
  run_clear (&run);
}

static void
test_lifecycle_killed_status (void)
{
  Run run;
  g_autofree char *a = child ("kill-self 9");
  run_init (&run);
  run_start (&run, a);
  g_assert_cmpint (run_wait (&run), ==, 128 + 9);
  g_assert_nonnull (strstr (run_err (&run), "A was killed by signal 9"));
  run_clear (&run);
}

static void
test_lifecycle_wait_all (void)
{
  Run run;
  g_autofree char *a = child ("exit 0");
  g_autofree char *b = g_strdup_printf ("sh -c 'sleep 0.3; exec %s exit 5'", HARNESS_CHILD);
  g_autofree char *c = child ("exit 7");
  run_init (&run);
  run_start (&run, "--wait-all", a, b, c);
  /* C fails first in time, B later: the first failure is reported. */
  g_assert_cmpint (run_wait (&run), ==, 7);
  g_assert_cmpuint (tu_count (run_out (&run), "bye\n"), ==, 3);
  g_assert_null (strstr (run_err (&run), "SIGTERM"));
  run_clear (&run);

  run_init (&run);
  run_start (&run, "--wait-all", a, a);
  g_assert_cmpint (run_wait (&run), ==, 0);
  run_clear (&run);
}

/* A child that ignores SIGTERM gets SIGKILL after --kill-timeout. */
static void
test_lifecycle_kill_timeout (void)
{
  Run run;
  g_autofree char *a = child ("ignore-term");
  run_init (&run);
  write_file (run.tmp, "t.script", "expect A /pid/\n"); /* SIGTERM is ignored now */
  run_start (&run, "--kill-timeout", "300ms", "--script", "t.script", "--exit-after-script", a);
  GPid pid_a = pid_of (&run, "A");
  g_assert_true (tu_proc_wait_stderr (run.proc, "stopping A (SIGTERM)", WAIT_MS));
  gint64 termed = tu_now_us ();
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_cmpint (tu_now_us () - termed, >=, 250 * 1000);
  g_assert_nonnull (strstr (run_err (&run), "stopping A (SIGKILL)"));
  g_assert_nonnull (strstr (run_err (&run), "A was killed by signal 9"));
  g_assert_false (pid_alive (pid_a));
  run_clear (&run);
}

/* A child's group is signalled, so a grandchild holding the pipe open does
 * not keep the harness waiting, and is gone too. */
static void
test_lifecycle_grandchild (void)
{
  Run run;
  g_autofree char *a = child ("grandchild");
  g_autofree char *b = child ("idle");
  run_init (&run);
  run_start (&run, a, b);
  g_assert_cmpint (run_wait (&run), ==, 0);
  const char *line = strstr (run_out (&run), "A: grandchild ");
  g_assert_nonnull (line);
  assert_gone ((GPid) g_ascii_strtoll (line + strlen ("A: grandchild "), NULL, 10));
  run_clear (&run);
}

/* A child starts with its stdin, stdout and stderr only: not the
 * descriptors the harness holds for itself or for the children before it,
 * nor one the harness was given without close-on-exec (7, here).  After
 * one child, and after 40, whose descriptors fill the harness's table far
 * past the slots the children's stdio comes through. */
static void
test_lifecycle_descriptors (void)
{
  static const struct { guint before; const char *name; } cases[] = {
    { 1, "B" }, { 40, "AO" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *tmp = tu_tmpdir_new ();
      g_autofree char *idle = g_strdup_printf ("'%s idle'", HARNESS_CHILD);
      g_autoptr (GString) before = g_string_new (NULL);
      for (guint c = 0; c < cases[i].before; c++)
        g_string_append_printf (before, " %s", idle);
      g_autofree char *script = g_strdup_printf (
        "cd '%s' && printf 'expect %s /^fds/\\n' > t.script && exec 7</dev/null && "
        "XDG_RUNTIME_DIR='%s' exec '%s' --script t.script --exit-after-script "
        "%s '%s fds' 2>/dev/null",
        tmp, cases[i].name, tmp, PIPE_HARNESS, before->str, HARNESS_CHILD);
      const char *argv[] = { "/bin/bash", "-c", script, NULL };
      g_autofree char *out = NULL;
      g_autofree char *expected = g_strdup_printf ("%s: fds 0 1 2\n", cases[i].name);

      g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, &out, NULL), ==, 0);
      g_assert_nonnull (strstr (out, expected));
      g_autofree char *script_file = g_build_filename (tmp, "t.script", NULL);
      g_unlink (script_file);
      assert_folder_holds (tmp, NULL);
    }
}

/* The children's last words on SIGTERM are read too. */
static void
test_lifecycle_output_after_sigterm (void)
{
  Run run;
  g_autofree char *a = child ("term-message");
  run_init (&run);
  write_file (run.tmp, "t.script", "expect A /pid/\n"); /* its handler is set */
  run_start (&run, "--script", "t.script", "--exit-after-script", a);
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "A: terminated\n"));
  g_assert_nonnull (strstr (run_err (&run), "A exited with status 0"));
  run_clear (&run);
}

static void
test_lifecycle_signals (void)
{
  static const int signals[] = { SIGINT, SIGTERM, SIGHUP };
  for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
    {
      Run run;
      g_autofree char *a = child ("idle");
      g_autofree char *b = child ("no-read");
      run_init (&run);
      run_start (&run, a, b);
      GPid pid_a = pid_of (&run, "A"), pid_b = pid_of (&run, "B");
      g_autofree char *fifo = fifo_of (&run, "B");
      tu_proc_signal (run.proc, signals[i]);
      g_assert_cmpint (run_wait (&run), ==, 128 + signals[i]);
      g_assert_false (pid_alive (pid_a));
      g_assert_false (pid_alive (pid_b));
      g_assert_false (g_file_test (fifo, G_FILE_TEST_EXISTS));
      assert_folder_holds (run.tmp, NULL);
      run_clear (&run);
    }
}

/* stdout's reader goes away: the harness ends promptly, 141, no child left. */
static void
test_lifecycle_stdout_closed (void)
{
  g_autofree char *tmp = tu_tmpdir_new ();
  g_autofree char *script = g_strdup_printf (
    "XDG_RUNTIME_DIR='%s' '%s' '%s flood 100000000 64' 'sleep 100' 2>'%s/err' | head -1; "
    "echo \"status ${PIPESTATUS[0]}\"",
    tmp, PIPE_HARNESS, HARNESS_CHILD, tmp);
  const char *argv[] = { "/bin/bash", "-c", script, NULL };
  g_autofree char *out = NULL;

  gint64 start = tu_now_us ();
  g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, &out, NULL), ==, 0);
  g_assert_cmpint (tu_now_us () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_true (g_str_has_prefix (out, "A: 000000000 "));
  g_assert_nonnull (strstr (out, "status 141\n"));

  g_autofree char *err_path = g_build_filename (tmp, "err", NULL);
  g_autofree char *err = NULL;
  g_assert_true (g_file_get_contents (err_path, &err, NULL, NULL));
  const char *pid_line = strstr (err, "B started (pid ");
  g_assert_nonnull (pid_line);
  assert_gone ((GPid) g_ascii_strtoll (pid_line + strlen ("B started (pid "), NULL, 10));
  g_unlink (err_path);
  assert_folder_holds (tmp, NULL);
  tu_tmpdir_remove (tmp);
}

/* An idle harness does not wake up: no timers, no polling. */
static void
test_lifecycle_idle_no_wakeups (void)
{
  Run run;
  g_autofree char *a = child ("idle");
  g_autofree char *b = child ("idle");
  run_init (&run);
  run_start (&run, a, b);
  g_assert_true (tu_proc_wait_stdout (run.proc, "B: pid", WAIT_MS));
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: pid", WAIT_MS));
  tu_sleep_ms (300); /* let the last partial-line deadline pass */

  g_autofree char *status_path = g_strdup_printf ("/proc/%d/status", (int) tu_proc_pid (run.proc));
  guint64 switches[2];
  for (int round = 0; round < 2; round++)
    {
      g_autofree char *status = NULL;
      g_assert_true (g_file_get_contents (status_path, &status, NULL, NULL));
      const char *v = strstr (status, "voluntary_ctxt_switches:");
      const char *nv = strstr (status, "nonvoluntary_ctxt_switches:");
      g_assert_nonnull (v);
      switches[round] = g_ascii_strtoull (v + strlen ("voluntary_ctxt_switches:"), NULL, 10) +
                        g_ascii_strtoull (nv + strlen ("nonvoluntary_ctxt_switches:"), NULL, 10);
      if (round == 0)
        tu_sleep_ms (1000);
    }
  g_assert_cmpuint (switches[1] - switches[0], <=, 2);
  run_stop (&run);
}

/* ------------------------------------------------------------------ */
/* FIFOs on disk */

static void
test_fifo_private_folder (void)
{
  Run run;
  g_autofree char *a = child ("idle");
  GStatBuf st;
  run_init (&run);
  run_start (&run, "--names", "one,two", a, a);
  g_autofree char *fifo = fifo_of (&run, "two");
  g_autofree char *dir = g_path_get_dirname (fifo);
  g_autofree char *base = g_path_get_basename (fifo);

  g_assert_cmpstr (base, ==, "two");
  g_assert_true (g_str_has_prefix (dir, run.tmp));
  g_assert_cmpint (g_lstat (dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  g_assert_cmpint (g_lstat (fifo, &st), ==, 0);
  g_assert_true (S_ISFIFO (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);

  tu_proc_signal (run.proc, SIGTERM);
  run_wait (&run);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  run_clear (&run);
}

/* An existing FIFO of ours is used and kept; one the harness makes in a
 * --fifo-dir it made is removed with the folder. */
static void
test_fifo_existing_kept_made_removed (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  run_init (&run);
  g_autofree char *mine = g_build_filename (run.tmp, "mine", NULL);
  g_autofree char *made_dir = g_build_filename (run.tmp, "fifos", NULL);
  g_autofree char *fifo_opt = g_strdup_printf ("A=%s", mine);
  tu_mkfifo (mine);

  run_start (&run, "--fifo", fifo_opt, "--fifo-dir", made_dir, a, a);
  g_autofree char *fifo_b = fifo_of (&run, "B");
  g_autofree char *expected_b = g_build_filename (made_dir, "B", NULL);
  g_assert_cmpstr (fifo_b, ==, expected_b);
  write_fifo (mine, "to A\n");
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: got: to A\n", WAIT_MS));
  tu_proc_signal (run.proc, SIGTERM);
  run_wait (&run);

  g_assert_true (g_file_test (mine, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (made_dir, G_FILE_TEST_EXISTS));
  run_clear (&run);
}

/* Runs the harness with --fifo A=path; it must refuse with status 2, a
 * one-line message naming path and reason, start nothing and leave the
 * path as it was. */
static void
assert_fifo_refused (Run *run, const char *path, const char *reason)
{
  g_autofree char *fifo_opt = g_strdup_printf ("A=%s", path);
  g_autofree char *marker = g_build_filename (run->tmp, "started", NULL);
  g_autofree char *cmd = g_strdup_printf ("touch '%s'", marker);
  GStatBuf before, after;

  g_assert_cmpint (g_lstat (path, &before), ==, 0);
  run_start (run, "--shell", "--fifo", fifo_opt, cmd);
  g_assert_cmpint (run_wait (run), ==, 2);
  g_autofree char *expected = g_strdup_printf ("pipe-harness: %s %s; refusing to use it "
                                               "(left untouched)\n", path, reason);
  g_assert_cmpstr (run_err (run), ==, expected);
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_lstat (path, &after), ==, 0);
  g_assert_cmpint (after.st_ino, ==, before.st_ino);
  g_assert_cmpint (after.st_mode, ==, before.st_mode);
  g_assert_cmpint (after.st_mtime, ==, before.st_mtime);
  g_clear_pointer (&run->proc, tu_proc_free);
}

static void
test_fifo_refused_paths (void)
{
  Run run;
  run_init (&run);
  g_autofree char *regular = g_build_filename (run.tmp, "regular", NULL);
  g_autofree char *link = g_build_filename (run.tmp, "link", NULL);
  g_autofree char *target = g_build_filename (run.tmp, "target", NULL);
  g_autofree char *folder = g_build_filename (run.tmp, "folder", NULL);
  g_autofree char *open_fifo = g_build_filename (run.tmp, "open-fifo", NULL);
  const char *keep[] = { "regular", "link", "target", "folder", "open-fifo", NULL };

  write_file (run.tmp, "regular", "precious\n");
  tu_mkfifo (target);
  g_assert_cmpint (symlink (target, link), ==, 0);
  g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
  tu_mkfifo (open_fifo);
  g_assert_cmpint (g_chmod (open_fifo, 0622), ==, 0);

  assert_fifo_refused (&run, regular, "is a regular file");
  assert_fifo_refused (&run, link, "is a symbolic link");
  assert_fifo_refused (&run, folder, "is a folder");
  assert_fifo_refused (&run, open_fifo, "is a FIFO that group or others may write to");

  g_autofree char *content = NULL;
  g_assert_true (g_file_get_contents (regular, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "precious\n");
  assert_folder_holds (run.tmp, keep);
  run_clear (&run);
}

static void
test_fifo_refused_foreign (void)
{
  Run run;
  if (geteuid () != 0)
    {
      g_test_skip ("making a FIFO owned by another user needs root");
      return;
    }
  run_init (&run);
  g_autofree char *foreign = g_build_filename (run.tmp, "foreign", NULL);
  tu_mkfifo (foreign);
  g_assert_cmpint (chown (foreign, 65534, 65534), ==, 0);
  assert_fifo_refused (&run, foreign, "is a FIFO owned by another user");
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* Scripts */

/* The classic: capture a port, send it on, check the answers; input
 * written to a FIFO during the script waits until the script is done. */
static void
test_script_pass (void)
{
  Run run;
  g_autofree char *server = g_strdup_printf ("sh -c 'echo listening on port 4242; exec %s echo'",
                                             HARNESS_CHILD);
  g_autofree char *client = child ("echo");
  run_init (&run);
  write_file (run.tmp, "t.script",
              "# the classic\n"
              "expect server /listening on port (?<port>\\d+)/\n"
              "send client connect 127.0.0.1 ${port}\n"
              "expect client /got: connect 127.0.0.1 (?<p>\\d+)/ 5s\n"
              "send server hello ${p}\n"
              "expect server /got: hello 4242/\n"
              "sleep 300ms\n"
              "send client last\n"
              "expect client /got: last/\n");
  run_start (&run, "--names", "server,client", "--script", "t.script", server, client);
  g_autofree char *fifo = fifo_of (&run, "client");
  write_fifo (fifo, "typed during the script\n");
  g_assert_true (tu_proc_wait_stderr (run.proc, "script t.script done", WAIT_MS));
  g_assert_true (tu_proc_wait_stdout (run.proc, "client: got: typed during the script\n", WAIT_MS));
  /* The FIFO's line came after the script's own. */
  g_assert_nonnull (strstr (run_out (&run), "client: got: last\nclient: got: typed during"));
  run_stop (&run);
}

static void
test_script_exit_after (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  g_autofree char *b = child ("idle");
  run_init (&run);
  write_file (run.tmp, "t.script", "send A hi\nexpect A /got: hi/\nclose B\nwait B 2s\n");
  run_start (&run, "--script", "t.script", "--exit-after-script", a, b);
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "A: got: hi\n"));
  g_assert_nonnull (strstr (run_err (&run), "B exited with status 0"));
  assert_folder_holds (run.tmp, (const char *[]) { "t.script", NULL });
  run_clear (&run);
}

/* A failed step: exit 3, the step, its line and what the child printed. */
static void
test_script_fail (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  run_init (&run);
  write_file (run.tmp, "t.script", "send A one\nsend A two\n\nexpect A /three/ 200ms\n");
  run_start (&run, "--script", "t.script", a);
  g_assert_cmpint (run_wait (&run), ==, 3);
  g_assert_nonnull (strstr (run_err (&run),
                            "pipe-harness: t.script:4: expect A /three/ 200ms: no matching line within 200ms "
                            "(searched 2 lines)\n"
                            "pipe-harness: A printed last:\n"
                            "pipe-harness:   | got: one\n"
                            "pipe-harness:   | got: two\n"));
  assert_folder_holds (run.tmp, (const char *[]) { "t.script", NULL });
  run_clear (&run);
}

/* The script's child exits before the expected line: fail at once. */
static void
test_script_child_gone (void)
{
  Run run;
  g_autofree char *a = child ("exit 0");
  g_autofree char *b = child ("idle");
  run_init (&run);
  write_file (run.tmp, "t.script", "expect A /never/ 20s\n");
  gint64 start = tu_now_us ();
  run_start (&run, "--script", "t.script", a, b);
  g_assert_cmpint (run_wait (&run), ==, 3);
  g_assert_cmpint (tu_now_us () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_nonnull (strstr (run_err (&run),
                            "t.script:1: expect A /never/ 20s: A exited with status 0 "
                            "without printing a matching line (searched 1 line)\n"));
  run_clear (&run);
}

/* A malformed script is rejected before anything starts. */
static void
test_script_malformed (void)
{
  Run run;
  run_init (&run);
  g_autofree char *marker = g_build_filename (run.tmp, "started", NULL);
  g_autofree char *cmd = g_strdup_printf ("touch '%s'", marker);
  write_file (run.tmp, "t.script", "send A fine\nexpect B /x/\n");
  run_start (&run, "--shell", "--script", "t.script", cmd);
  g_assert_cmpint (run_wait (&run), ==, 2);
  g_assert_cmpstr (run_err (&run),
                   ==, "pipe-harness: t.script:2: unknown child 'B' (the children are A)\n");
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
  assert_folder_holds (run.tmp, (const char *[]) { "t.script", NULL });
  run_clear (&run);

  run_init (&run);
  run_start (&run, "--script", "missing.script", "true");
  g_assert_cmpint (run_wait (&run), ==, 2);
  g_assert_nonnull (strstr (run_err (&run), "missing.script"));
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* Usage */

static void
test_usage_errors (void)
{
  static const struct {
    const char *args[4];
    const char *message;
  } cases[] = {
    { { NULL }, "pipe-harness: no COMMAND given (see --help)\n" },
    { { "--bogus", "true", NULL }, "pipe-harness: Unknown option --bogus (see --help)\n" },
    { { "--names", "a,a", "true", NULL }, "pipe-harness: --names gives 2 names for 1 command\n" },
    { { "--names", "a b", "true", NULL }, "pipe-harness: --names: 'a b' is not a name (at most 64 letters, digits, _ and -)\n" },
    { { "--fifo", "Z=/tmp/x", "true", NULL }, "pipe-harness: --fifo Z=/tmp/x: there is no child named 'Z'\n" },
    { { "--exit-after-script", "true", NULL }, "pipe-harness: --exit-after-script needs --script\n" },
    { { "--kill-timeout", "soon", "true", NULL }, "pipe-harness: --kill-timeout: 'soon' is not a duration (write it like 250ms, 2s or 5)\n" },
    { { "--kill-timeout", "", "true", NULL }, "pipe-harness: --kill-timeout: no time given (write it like 250ms, 2s or 5)\n" },
    { { "", NULL }, "pipe-harness: A: cannot split command '': Text was empty (or contained only whitespace)\n" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Run run;
      run_init (&run);
      const char *args[5] = { 0 };
      memcpy (args, cases[i].args, sizeof cases[i].args);
      run_start_argv (&run, args);
      g_assert_cmpint (run_wait (&run), ==, 2);
      g_assert_cmpstr (run_err (&run), ==, cases[i].message);
      assert_folder_holds (run.tmp, NULL);
      run_clear (&run);
    }
}

/* A command that cannot start: 127, and nothing is left behind. */
static void
test_usage_command_not_found (void)
{
  Run run;
  g_autofree char *a = child ("idle");
  run_init (&run);
  run_start (&run, a, "no-such-program-here --flag");
  g_assert_cmpint (run_wait (&run), ==, 127);
  g_assert_cmpstr (run_err (&run), ==, "pipe-harness: B: command not found: no-such-program-here\n");
  assert_folder_holds (run.tmp, NULL);
  run_clear (&run);

  /* Paths are checked too. */
  run_init (&run);
  write_file (run.tmp, "not-executable", "#!/bin/sh\n");
  run_start (&run, a, "./not-executable");
  g_assert_cmpint (run_wait (&run), ==, 127);
  g_assert_cmpstr (run_err (&run), ==, "pipe-harness: B: not an executable file: ./not-executable\n");
  run_clear (&run);

  /* Found, but it cannot start (its interpreter is missing): the children
   * already started are stopped, and nothing is left behind. */
  run_init (&run);
  write_file (run.tmp, "bad-interpreter", "#!/no/such/interpreter\n");
  g_autofree char *path = g_build_filename (run.tmp, "bad-interpreter", NULL);
  g_chmod (path, 0755);
  run_start (&run, a, path);
  GPid pid_a = pid_of (&run, "A");
  g_assert_cmpint (run_wait (&run), ==, 127);
  g_assert_nonnull (strstr (run_err (&run), "pipe-harness: B: cannot start: "));
  g_assert_false (pid_alive (pid_a));
  assert_folder_holds (run.tmp, (const char *[]) { "bad-interpreter", NULL });
  run_clear (&run);
}

static void
test_usage_version_help (void)
{
  const char *version[] = { PIPE_HARNESS, "--version", NULL };
  const char *help[] = { PIPE_HARNESS, "--help", NULL };
  g_autofree char *out = NULL;
  g_autofree char *help_out = NULL;
  g_assert_cmpint (tu_run (version, NULL, WAIT_MS, &out, NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "pipe-harness "));
  g_assert_cmpint (tu_run (help, NULL, WAIT_MS, &help_out, NULL), ==, 0);
  for (const char *const *opt = (const char *const[]) { "--names", "--shell", "--fifo-dir", "--fifo=",
                                                         "--script", "--exit-after-script",
                                                         "--wait-all", "--merge-stderr",
                                                         "--kill-timeout", "--quiet", NULL };
       *opt != NULL; opt++)
    g_assert_nonnull (strstr (help_out, *opt));
}

/* ------------------------------------------------------------------ */
/* A real client and server: netcat on the loopback */

static guint16
free_port (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, &error);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (sock, any, TRUE, &error));
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static void
test_netcat_pair (void)
{
  Run run;
  g_autofree char *nc = g_find_program_in_path ("nc");
  g_assert_nonnull (nc); /* the test set-up installs netcat-openbsd */
  guint16 port = free_port ();
  g_autofree char *server = g_strdup_printf ("nc -l 127.0.0.1 %u", port);
  g_autofree char *client = g_strdup_printf (
    "i=0; until nc 127.0.0.1 %u; do i=$((i+1)); [ $i -gt 50 ] && exit 1; sleep 0.1; done", port);
  run_init (&run);
  write_file (run.tmp, "nc.script",
              "send server hello from the server\n"
              "expect client /^hello from the server$/\n"
              "send client hello from the client\n"
              "expect server /^hello from the client$/\n");
  run_start (&run, "--shell", "--names", "server,client", "--script", "nc.script",
             "--exit-after-script", server, client);
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "client: hello from the server\n"));
  g_assert_nonnull (strstr (run_out (&run), "server: hello from the client\n"));
  assert_folder_holds (run.tmp, (const char *[]) { "nc.script", NULL });
  run_clear (&run);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/harness/output/marked", test_output_marked);
  g_test_add_func ("/harness/output/merge-stderr-and-names", test_output_merge_stderr_and_names);
  g_test_add_func ("/harness/output/flood", test_output_flood);
  g_test_add_func ("/harness/output/partial-line", test_output_partial_line);
  g_test_add_func ("/harness/output/split-write-joined", test_output_split_write_joined);
  g_test_add_func ("/harness/output/bytes-unchanged", test_output_bytes_unchanged);
  g_test_add_func ("/harness/output/long-line", test_output_long_line);
  g_test_add_func ("/harness/input/successive-writers", test_input_successive_writers);
  g_test_add_func ("/harness/input/concurrent-writers", test_input_concurrent_writers);
  g_test_add_func ("/harness/input/bounded-queue", test_input_bounded_queue);
  g_test_add_func ("/harness/input/child-closed-stdin", test_input_child_closed_stdin);
  g_test_add_func ("/harness/lifecycle/first-exit-ends", test_lifecycle_first_exit_ends);
  g_test_add_func ("/harness/lifecycle/drain-before-exit", test_lifecycle_drain_before_exit);
  g_test_add_func ("/harness/lifecycle/killed-status", test_lifecycle_killed_status);
  g_test_add_func ("/harness/lifecycle/wait-all", test_lifecycle_wait_all);
  g_test_add_func ("/harness/lifecycle/kill-timeout", test_lifecycle_kill_timeout);
  g_test_add_func ("/harness/lifecycle/grandchild", test_lifecycle_grandchild);
  g_test_add_func ("/harness/lifecycle/descriptors", test_lifecycle_descriptors);
  g_test_add_func ("/harness/lifecycle/output-after-sigterm", test_lifecycle_output_after_sigterm);
  g_test_add_func ("/harness/lifecycle/signals", test_lifecycle_signals);
  g_test_add_func ("/harness/lifecycle/stdout-closed", test_lifecycle_stdout_closed);
  g_test_add_func ("/harness/lifecycle/idle-no-wakeups", test_lifecycle_idle_no_wakeups);
  g_test_add_func ("/harness/fifo/private-folder", test_fifo_private_folder);
  g_test_add_func ("/harness/fifo/existing-kept-made-removed", test_fifo_existing_kept_made_removed);
  g_test_add_func ("/harness/fifo/refused-paths", test_fifo_refused_paths);
  g_test_add_func ("/harness/fifo/refused-foreign", test_fifo_refused_foreign);
  g_test_add_func ("/harness/script/pass", test_script_pass);
  g_test_add_func ("/harness/script/exit-after", test_script_exit_after);
  g_test_add_func ("/harness/script/fail", test_script_fail);
  g_test_add_func ("/harness/script/child-gone", test_script_child_gone);
  g_test_add_func ("/harness/script/malformed", test_script_malformed);
  g_test_add_func ("/harness/usage/errors", test_usage_errors);
  g_test_add_func ("/harness/usage/command-not-found", test_usage_command_not_found);
  g_test_add_func ("/harness/usage/version-help", test_usage_version_help);
  g_test_add_func ("/harness/netcat/pair", test_netcat_pair);
  return g_test_run ();
}
