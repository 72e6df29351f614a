/* Integration tests of pipe-harness's scripts: the built tool runs a script
 * against real children (tests/harness-child, kv-server and kv-client,
 * cat, sqlite3), and its exit status and reports are checked.  Verdicts:
 * a child ending abnormally fails the script unless the script caused or
 * accepted that end; ordered starts with --ready, held children, restarts,
 * signals, every step kind, prompts, the match window, reports, costly
 * regexes, and a start that cannot start. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness-run.h"

#define STEP_REPORT(line, step) "pipe-harness: t.script:" line ": " step ": "

static void
script_file (Run *run, const char *text)
{
  write_file (run->tmp, "t.script", text);
}

static gint64
ms_since (gint64 start_us)
{
  return (tu_now_us () - start_us) / 1000;
}

static void
assert_err_has (Run *run, const char *text)
{
  if (strstr (run_err (run), text) == NULL)
    g_error ("stderr lacks \"%s\"; it was:\n%s", text, run_err (run));
}

static void
assert_out_has (Run *run, const char *text)
{
  if (strstr (run_out (run), text) == NULL)
    g_error ("stdout lacks \"%s\"; it was:\n%s", text, run_out (run));
}

/* The harness ran its course: nothing of it is left but the files named. */
static void
assert_clean (Run *run, const char *const *keep)
{
  assert_folder_holds (run->tmp, keep);
}

/* "ASAN_OPTIONS=…" with options added to those the test got (meson's, in
 * a sanitized build); without a sanitizer they mean nothing. */
static char *
asan_env (const char *options)
{
  const char *given = g_getenv ("ASAN_OPTIONS");
  return g_strdup_printf ("ASAN_OPTIONS=%s%s%s", given ? given : "", given ? ":" : "", options);
}

static const char *const only_script[] = { "t.script", NULL };

/* Every pid the harness reported for child name, in order. */
static GArray *
pids_of (Run *run, const char *name)
{
  g_autofree char *needle = g_strdup_printf ("pipe-harness: %s started (pid ", name);
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (GPid));
  for (const char *p = strstr (run_err (run), needle); p != NULL;
       p = strstr (p + 1, needle))
    {
      GPid pid = (GPid) g_ascii_strtoll (p + strlen (needle), NULL, 10);
      g_array_append_val (pids, pid);
    }
  return pids;
}

/* The state letter of /proc/PID/stat ('S', 'T', …), or 0. */
static char
proc_state (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return 0;
  const char *paren = strrchr (stat, ')');
  return paren != NULL ? paren[2] : 0;
}

/* ------------------------------------------------------------------ */
/* 1. A child ending abnormally while the script runs fails it */

typedef enum {
  END_SEGV_FROM_OUTSIDE,
  END_SEGV_ITSELF,
  END_EXIT_4,
} AbnormalEnd;

typedef struct {
  AbnormalEnd end;
  gboolean exit_after_script;
} AbnormalCase;

static void
test_abnormal_end (gconstpointer data)
{
  const AbnormalCase *c = data;
  Run run;
  g_autofree char *b = child ("idle");
  g_autofree char *a = child (c->end == END_SEGV_FROM_OUTSIDE ? "idle"
                              : c->end == END_SEGV_ITSELF ? "signal-after 300 11"
                              : "exit-after 300 4");
  run_init (&run);
  script_file (&run, "expect A /^pid/\nsleep 20s\n");
  if (c->exit_after_script)
    run_start (&run, "--script", "t.script", "--exit-after-script", a, b);
  else
    run_start (&run, "--script", "t.script", a, b);
  GPid pid_a = pid_of (&run, "A"), pid_b = pid_of (&run, "B");
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: pid ", WAIT_MS));
  if (c->end == END_SEGV_FROM_OUTSIDE)
    g_assert_cmpint (kill (pid_a, SIGSEGV), ==, 0);

  g_assert_cmpint (run_wait (&run), ==, 3);
  assert_err_has (&run, c->end == END_EXIT_4
                          ? STEP_REPORT ("2", "sleep 20s") "A exited with status 4\n"
                          : STEP_REPORT ("2", "sleep 20s") "A was killed by signal 11 (SIGSEGV)\n");
  assert_gone (pid_a);
  assert_gone (pid_b);
  assert_clean (&run, only_script);
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 2. An end the script caused or accepted is no failure */

typedef struct {
  const char *child_args;
  const char *script;
  int status;
  const char *report; /* on stderr when status is 3 */
} EndCase;

static const EndCase end_cases[] = {
  { "idle", "expect A /^pid/\nsignal A TERM\nsleep 500ms\n", 0, NULL },
  { "idle", "expect A /^pid/\nsignal A TERM\n", 0, NULL },
  { "exit-on-eof 1", "expect A /^pid/\nclose A\nsleep 500ms\n", 0, NULL },
  { "idle", "expect A /^pid/\nrestart A\nexpect A /^pid/\nsleep 300ms\n", 0, NULL },
  { "exit-after 200 1", "wait A exit 1\n", 0, NULL },
  { "signal-after 200 15", "wait A signal TERM\n", 0, NULL },
  { "signal-after 200 11", "wait A any\n", 0, NULL },
  { "signal-after 200 11", "wait A\n", 3,
    STEP_REPORT ("1", "wait A") "A was killed by signal 11 (SIGSEGV); it should exit with status 0\n" },
  { "exit-after 200 2", "wait A exit 1\n", 3,
    STEP_REPORT ("1", "wait A exit 1") "A exited with status 2; it should exit with status 1\n" },
  { "exit-on-eof 1", "expect A /^pid/\nsleep 300ms\nclose A\nsleep 500ms\n", 0, NULL },
};

static void
test_caused_end (gconstpointer data)
{
  const EndCase *c = data;
  Run run;
  g_autofree char *a = child (c->child_args);
  run_init (&run);
  script_file (&run, c->script);
  run_start (&run, "--script", "t.script", "--exit-after-script", a);
  int status = run_wait (&run);
  if (status != c->status)
    g_error ("%s with \"%s\": status %d, not %d; stderr:\n%s", c->child_args,
             c->script, status, c->status, run_err (&run));
  if (c->report != NULL)
    assert_err_has (&run, c->report);
  g_autoptr (GArray) pids = pids_of (&run, "A");
  for (guint i = 0; i < pids->len; i++)
    assert_gone (g_array_index (pids, GPid, i));
  assert_clean (&run, only_script);
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 3. --exit-after-script: what the harness's own stop causes does not
 * count; an abnormal end of the child's own after the script does. */

static void
test_exit_after_own_stop (void)
{
  Run run;
  g_autofree char *a = child ("no-read");
  run_init (&run);
  script_file (&run, "expect A /^pid/\n");
  run_start (&run, "--script", "t.script", "--exit-after-script", a);
  g_assert_cmpint (run_wait (&run), ==, 0);
  assert_err_has (&run, "pipe-harness: stopping A (SIGTERM)\n");
  assert_err_has (&run, "pipe-harness: A was killed by signal 15 (");
  assert_clean (&run, only_script);
  run_clear (&run);
}

/* The child exits 1 when its stdin closes, as the harness closes it after
 * the script and before it stops the children. */
static void
test_exit_after_own_failure (void)
{
  Run run;
  g_autofree char *a = child ("exit-on-eof 1");
  run_init (&run);
  script_file (&run, "expect A /^pid/\n");
  run_start (&run, "--script", "t.script", "--exit-after-script", a);
  int status = run_wait (&run);
  const char *report = "pipe-harness: A exited with status 1 after the script, "
                       "before it was stopped\n";
  /* A failure here does not end the test program: the tests after it
   * still run. */
  if (status != 3 || strstr (run_err (&run), report) == NULL)
    g_test_fail_printf ("status %d, not 3, or stderr lacks \"%s\"; stderr:\n%s", status,
                        report, run_err (&run));
  else
    assert_clean (&run, only_script);
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 4. --ready */

/* A makes a file 300 ms after it starts, and only then prints its ready
 * line; B checks for the file as it starts, and exits 1 if it is missing.
 * C gets A's pid through the ready pattern's group, and a literal ${. */
static void
ready_order (gboolean ordered)
{
  Run run;
  run_init (&run);
  g_autofree char *made = g_build_filename (run.tmp, "made", NULL);
  g_autofree char *a_args = g_strdup_printf ("ready-after 300 %s", made);
  g_autofree char *b_args = g_strdup_printf ("check-file %s", made);
  g_autofree char *a = child (a_args);
  g_autofree char *b = child (b_args);
  g_autofree char *c = child ("args ${pid} '$${literal}'");
  gint64 start = tu_now_us ();

  if (ordered)
    {
      script_file (&run, "expect B /^found /\nexpect C /^${pid}$/\nexpect C /^\\$\\{literal\\}$/\n");
      run_start (&run, "--ready", "A=/^ready pid=(?<pid>\\d+)$/", "--script", "t.script",
                 "--exit-after-script", a, b, c);
    }
  else
    {
      script_file (&run, "expect B /^found /\n");
      run_start (&run, "--script", "t.script", "--exit-after-script", a, b);
    }
  int status = run_wait (&run);
  if (!ordered)
    {
      /* Without the order, B starts before the file exists. */
      g_assert_cmpint (status, ==, 3);
      g_autofree char *missing = g_strdup_printf ("B: missing %s\n", made);
      assert_out_has (&run, missing);
      run_clear (&run);
      return;
    }
  if (status != 0)
    g_error ("status %d; stderr:\n%s", status, run_err (&run));
  g_assert_cmpint (ms_since (start), >=, 300);
  g_autofree char *found = g_strdup_printf ("B: found %s\n", made);
  assert_out_has (&run, found);
  GPid pid_a = pid_of (&run, "A");
  g_autofree char *pid_line = g_strdup_printf ("C: %d\nC: ${literal}\n", (int) pid_a);
  assert_out_has (&run, pid_line);
  /* The command is reported as it was run. */
  g_autofree char *c_command = g_strdup_printf ("C started (pid %d): %s args %d ${literal}\n",
                                                (int) pid_of (&run, "C"), HARNESS_CHILD,
                                                (int) pid_a);
  assert_err_has (&run, c_command);
  assert_err_has (&run, "pipe-harness: A is ready\n");
  /* B and C started only after A was ready. */
  const char *err = run_err (&run);
  g_assert_true (strstr (err, "A is ready") < strstr (err, "B started"));
  g_assert_true (strstr (err, "B started") < strstr (err, "C started"));
  assert_clean (&run, (const char *[]) { "t.script", "made", NULL });
  run_clear (&run);
}

static void
test_ready_order (void)
{
  ready_order (TRUE);
}

/* The same children without --ready: B's check fails, so the ordered run
 * above passes because of the order. */
static void
test_ready_order_needed (void)
{
  ready_order (FALSE);
}

/* The child with the ready pattern exits before its line: nothing after it
 * starts, and nothing is left behind. */
static void
test_ready_exit_first (void)
{
  Run run;
  g_autofree char *a = child ("exit-after 100 1");
  g_autofree char *b = child ("idle");
  run_init (&run);
  script_file (&run, "expect B /^pid/\n");
  run_start (&run, "--ready", "A=/never/", "--script", "t.script", "--exit-after-script", a, b);
  GPid pid_a = pid_of (&run, "A");
  g_assert_cmpint (run_wait (&run), ==, 3);
  assert_err_has (&run, "pipe-harness: A exited with status 1 before printing a line "
                        "matching /never/ (--ready)\n");
  g_assert_null (strstr (run_err (&run), "B started"));
  assert_gone (pid_a);
  assert_clean (&run, only_script);
  run_clear (&run);
}

static void
test_ready_timeout (void)
{
  Run run;
  g_autofree char *a = child ("idle");
  g_autofree char *b = child ("idle");
  run_init (&run);
  script_file (&run, "expect B /^pid/\n");
  gint64 start = tu_now_us ();
  run_start (&run, "--ready", "A=/never/", "--ready-timeout", "300ms", "--script", "t.script",
             "--exit-after-script", a, b);
  GPid pid_a = pid_of (&run, "A");
  g_assert_cmpint (run_wait (&run), ==, 3);
  g_assert_cmpint (ms_since (start), >=, 300);
  g_assert_cmpint (ms_since (start), <, 3000);
  assert_err_has (&run, "pipe-harness: A printed no line matching /never/ within 300ms (--ready)\n");
  assert_err_has (&run, "pipe-harness: stopping A (SIGTERM)\n");
  g_assert_null (strstr (run_err (&run), "B started"));
  assert_gone (pid_a);
  assert_clean (&run, only_script);
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 5. --hold and start */

static void
test_hold_start (void)
{
  Run run;
  g_autofree char *a = child ("idle");
  g_autofree char *b = child ("echo");
  run_init (&run);
  script_file (&run, "sleep 1s\nstart B\nsend B from the script\nexpect B /^got: from the script$/\n");
  run_start (&run, "--hold", "B", "--script", "t.script", a, b);
  g_autofree char *fifo = fifo_of (&run, "B");
  g_assert_true (tu_proc_wait_stderr (run.proc, "A started", WAIT_MS));
  tu_sleep_ms (200);
  /* Its FIFO is there, but it does not run yet. */
  struct stat st;
  g_assert_cmpint (stat (fifo, &st), ==, 0);
  g_assert_true (S_ISFIFO (st.st_mode));
  g_assert_null (strstr (run_err (&run), "B started"));
  /* What is written now waits until the script is done. */
  write_fifo (fifo, "early\n");
  g_assert_true (tu_proc_wait_stderr (run.proc, "B started", WAIT_MS));
  g_assert_true (tu_proc_wait_stderr (run.proc, "script t.script done", WAIT_MS));
  g_assert_true (tu_proc_wait_stdout (run.proc, "B: got: early\n", WAIT_MS));
  g_assert_true (strstr (run_out (&run), "B: got: from the script\n") <
                 strstr (run_out (&run), "B: got: early\n"));
  GPid pid_b = pid_of (&run, "B");
  run_stop (&run);
  assert_gone (pid_b);
}

/* A held child that the script starts and that then exits may be started
 * again. */
static void
test_hold_start_again (void)
{
  Run run;
  g_autofree char *b = child ("exit-on-eof 0");
  run_init (&run);
  script_file (&run, "start B\nexpect B /^pid/\nclose B\nwait B\nstart B\nexpect B /^pid/\n");
  run_start (&run, "--hold", "B", "--script", "t.script", "--exit-after-script", "--names", "A,B",
             HARNESS_CHILD " idle", b);
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_autoptr (GArray) pids = pids_of (&run, "B");
  g_assert_cmpuint (pids->len, ==, 2);
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 6. restart */

static void
test_restart_keeps_fifo (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  run_init (&run);
  script_file (&run, "send A one\nexpect A /^got: one$/\nrestart A\nsend A two\nexpect A /^got: two$/\n");
  run_start (&run, "--script", "t.script", a);
  g_autofree char *fifo = fifo_of (&run, "A");
  g_assert_true (tu_proc_wait_stderr (run.proc, "script t.script done", WAIT_MS));
  write_fifo (fifo, "three\n");
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: got: three\n", WAIT_MS));
  g_autoptr (GArray) pids = pids_of (&run, "A");
  g_assert_cmpuint (pids->len, ==, 2);
  g_assert_cmpint (g_array_index (pids, GPid, 0), !=, g_array_index (pids, GPid, 1));
  assert_gone (g_array_index (pids, GPid, 0));
  g_assert_true (pid_alive (g_array_index (pids, GPid, 1)));
  run_stop (&run);
  assert_gone (g_array_index (pids, GPid, 1));
}

/* The ports the server printed, in order. */
static GPtrArray *
ports_of (Run *run)
{
  static const char needle[] = "server: listening on 127.0.0.1 port ";
  GPtrArray *ports = g_ptr_array_new_with_free_func (g_free);
  for (const char *p = strstr (run_out (run), needle); p != NULL; p = strstr (p + 1, needle))
    g_ptr_array_add (ports, g_strndup (p + strlen (needle), strcspn (p + strlen (needle), "\n")));
  return ports;
}

/* The whole QA scenario: start the server, then the client on the port it
 * printed; talk; restart the server (a new port); the client sees it go,
 * reconnects to the new port and talks again; restarting the client runs
 * its command with the new port.  With crash, the new server is killed by
 * SIGSEGV while the script runs. */
static void
kv_scenario (gboolean crash)
{
  Run run;
  g_autofree char *server = g_strdup_printf ("%s --port 0", KV_SERVER);
  g_autofree char *client = g_strdup_printf ("%s 127.0.0.1 ${port}", KV_CLIENT);
  run_init (&run);
  script_file (&run,
               "expect client /^connected to 127\\.0\\.0\\.1 port ${port}$/\n"
               "fail-on server /error|warning/\n"
               "send client login alice\n"
               "expect client /^welcome alice$/\n"
               "send client set color blue\n"
               "expect client /^ok$/\n"
               "set first ${port}\n"
               "restart server\n"
               "expect client /^disconnected$/\n"
               "send client connect 127.0.0.1 ${port}\n"
               "expect client /^connected to 127\\.0\\.0\\.1 port ${port}$/\n"
               "send client login bob\n"
               "expect client /^welcome bob$/ unless /error/\n"
               "send client get color\n"
               "expect client /^error: no color$/\n"
               "restart client\n"
               "expect client /^connected to 127\\.0\\.0\\.1 port ${port}$/\n"
               "send client login carol\n"
               "expect client /^welcome carol$/\n"
               "expect server /logged in as carol/\n"
               "sleep 300ms\n"
               "send client quit\n"
               "expect client /^bye$/\n"
               "sleep 1s\n");
  /* In a sanitized build, SIGSEGV still kills the server. */
  g_autofree char *asan_options = asan_env ("handle_segv=0");
  run_start_full (&run, (const char *[]) { asan_options, NULL },
                  (const char *[]) { "--names", "server,client",
                                     "--ready", "server=/listening on 127\\.0\\.0\\.1 port (?<port>\\d+)/",
                                     "--script", "t.script", "--exit-after-script", server, client,
                                     NULL });
  if (crash)
    {
      g_assert_true (tu_proc_wait_stdout (run.proc, "client: welcome bob\n", WAIT_MS));
      g_autoptr (GArray) servers = pids_of (&run, "server");
      g_assert_cmpuint (servers->len, ==, 2);
      g_assert_cmpint (kill (g_array_index (servers, GPid, 1), SIGSEGV), ==, 0);
      g_assert_cmpint (run_wait (&run), ==, 3);
      assert_err_has (&run, "server was killed by signal 11 (SIGSEGV)\n");
      assert_err_has (&run, "pipe-harness: server printed last");
      g_assert_true (g_regex_match_simple ("pipe-harness: t\\.script:\\d+: [^\\n]+: server was "
                                           "killed by signal 11 \\(SIGSEGV\\)\\n",
                                           run_err (&run), 0, 0));
    }
  else
    {
      int status = run_wait (&run);
      if (status != 0)
        g_error ("status %d; stderr:\n%s", status, run_err (&run));
      g_autoptr (GPtrArray) ports = ports_of (&run);
      g_assert_cmpuint (ports->len, ==, 2);
      g_assert_cmpstr (ports->pdata[0], !=, ports->pdata[1]);
      /* The restarted client's command had the new port. */
      g_autofree char *command = g_strdup_printf ("%s 127.0.0.1 %s\n", KV_CLIENT,
                                                  (char *) ports->pdata[1]);
      assert_err_has (&run, command);
      g_autoptr (GArray) clients = pids_of (&run, "client");
      g_assert_cmpuint (clients->len, ==, 2);
      assert_out_has (&run, "client: welcome carol\n");
    }
  g_autoptr (GArray) servers = pids_of (&run, "server");
  g_autoptr (GArray) clients = pids_of (&run, "client");
  for (guint i = 0; i < servers->len; i++)
    assert_gone (g_array_index (servers, GPid, i));
  for (guint i = 0; i < clients->len; i++)
    assert_gone (g_array_index (clients, GPid, i));
  assert_clean (&run, only_script);
  run_clear (&run);
}

static void
test_restart_kv (void)
{
  kv_scenario (FALSE);
}

static void
test_restart_kv_crash (void)
{
  kv_scenario (TRUE);
}

/* ------------------------------------------------------------------ */
/* 7. signal */

static void
test_signal_names_numbers (void)
{
  Run run;
  g_autofree char *a = child ("signals");
  g_autofree char *script = g_strdup_printf (
    "expect A /^pid/\n"
    "signal A HUP\nexpect A /^got %d$/\n"
    "signal A SIGUSR1\nexpect A /^got %d$/\n"
    "signal A %d\nexpect A /^got %d$/\n"
    "signal A int\nexpect A /^got %d$/\n"
    "signal A 15\nwait A signal TERM\n",
    SIGHUP, SIGUSR1, SIGUSR2, SIGUSR2, SIGINT);
  run_init (&run);
  script_file (&run, script);
  run_start (&run, "--script", "t.script", "--exit-after-script", a);
  int status = run_wait (&run);
  if (status != 0)
    g_error ("status %d; stderr:\n%s", status, run_err (&run));
  assert_err_has (&run, "pipe-harness: sent SIGUSR2 to A\n");
  assert_err_has (&run, "pipe-harness: sent SIGTERM to A\n");
  run_clear (&run);
}

/* A stopped child does not answer until it is continued. */
static void
test_signal_stop_cont (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  run_init (&run);
  script_file (&run, "signal A STOP\nsend A hello\nrefute A /got: hello/ 1s\n"
                     "signal A CONT\nexpect A /^got: hello$/ 2s\n");
  run_start (&run, "--script", "t.script", "--exit-after-script", a);
  GPid pid = pid_of (&run, "A");
  g_assert_true (tu_proc_wait_stderr (run.proc, "sent SIGSTOP to A", WAIT_MS));
  tu_sleep_ms (100);
  g_assert_cmpint (proc_state (pid), ==, 'T');
  g_assert_true (tu_proc_wait_stderr (run.proc, "sent SIGCONT to A", WAIT_MS));
  tu_sleep_ms (100);
  g_assert_cmpint (proc_state (pid), !=, 'T');
  g_assert_cmpint (run_wait (&run), ==, 0);
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 8. refute, fail-on, unless */

typedef struct {
  const char *script;
  int status;
  const char *report;
  gint64 min_ms, max_ms; /* the run's length, from its start */
} StepCase;

static const StepCase step_cases[] = {
  /* refute passes after its time */
  { "send A a\nexpect A /^got: a$/\nrefute A /got: b/ 500ms\n", 0, NULL, 500, 5000 },
  /* and fails at once on a matching line */
  { "send A bad\nrefute A /got: bad/ 10s\n", 3,
    STEP_REPORT ("2", "refute A /got: bad/ 10s") "A printed a line matching /got: bad/: \"got: bad\"\n",
    0, 3000 },
  /* fail-on acts on a later line while another child's step runs */
  { "fail-on A /ERROR/\nsend A fine\nexpect A /^got: fine$/\nsend A ERROR 1\nexpect B /never/ 10s\n", 3,
    STEP_REPORT ("1", "fail-on A /ERROR/") "A printed \"got: ERROR 1\" while line 5 ran "
    "(expect B /never/ 10s)\n", 0, 3000 },
  /* and not once cleared */
  { "fail-on A /ERROR/\nfail-on A none\nsend A ERROR 1\nexpect A /^got: ERROR 1$/\nsleep 200ms\n",
    0, NULL, 200, 5000 },
  /* expect … unless: the good line first */
  { "send A good\nsend A bad\nexpect A /^got: good$/ unless /bad/\n", 0, NULL, 0, 5000 },
  /* the bad line first */
  { "send A bad\nsend A good\nexpect A /^got: good$/ unless /bad/\n", 3,
    STEP_REPORT ("3", "expect A /^got: good$/ unless /bad/")
    "A printed a line matching the unless pattern /bad/ first: \"got: bad\"\n", 0, 3000 },
};

static void
test_step_case (gconstpointer data)
{
  const StepCase *c = data;
  Run run;
  g_autofree char *a = child ("echo");
  g_autofree char *b = child ("idle");
  run_init (&run);
  script_file (&run, c->script);
  gint64 start = tu_now_us ();
  run_start (&run, "--script", "t.script", "--exit-after-script", a, b);
  int status = run_wait (&run);
  gint64 took = ms_since (start);
  if (status != c->status)
    g_error ("\"%s\": status %d, not %d; stderr:\n%s", c->script, status, c->status,
             run_err (&run));
  if (c->report != NULL)
    assert_err_has (&run, c->report);
  g_assert_cmpint (took, >=, c->min_ms);
  g_assert_cmpint (took, <, c->max_ms);
  assert_clean (&run, only_script);
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 9. repeat and set */

static void
test_repeat_nested (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  run_init (&run);
  script_file (&run, "repeat 10\n  set outer ${i}\n  repeat 10\n    send A ${outer}-${i}\n"
                     "    expect A /^got: ${outer}-${i}$/ 2s\n  end\n  send A after ${i}\nend\n"
                     "send A i is $${i}\nexpect A /^got: i is \\$\\{i\\}$/\n");
  run_start (&run, "--script", "t.script", "--exit-after-script", a);
  int status = run_wait (&run);
  if (status != 0)
    g_error ("status %d; stderr:\n%s", status, run_err (&run));
  g_assert_cmpuint (tu_count (run_out (&run), "A: got: "), ==, 100 + 10 + 1);
  g_autoptr (GString) expected = g_string_new (NULL);
  for (int outer = 0; outer < 10; outer++)
    {
      for (int i = 0; i < 10; i++)
        g_string_append_printf (expected, "A: got: %d-%d\n", outer, i);
      g_string_append_printf (expected, "A: got: after %d\n", outer);
    }
  g_string_append (expected, "A: got: i is ${i}\n");
  g_assert_cmpstr (run_out (&run), ==, expected->str);
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 10. send keeps blanks; write sends escapes and no newline */

static void
test_send_blanks_write_escapes (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  run_init (&run);
  script_file (&run, "send A   two blanks\nexpect A /^got:   two blanks$/\n"
                     "write A abc\nwrite A def\\tghi\\x21\\n\nexpect A /^got: abcdef\\tghi!$/\n");
  run_start (&run, "--script", "t.script", "--exit-after-script", a);
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_cmpstr (run_out (&run), ==, "A: got:   two blanks\nA: got: abcdef\tghi!\n");
  run_clear (&run);
}

/* ^C written to a terminal interrupts what runs on it. */
static void
test_write_interrupt_pty (void)
{
  Run run;
  run_init (&run);
  script_file (&run, "write A hi\\x21\\n\nexpect A /^hi!$/ 2s\nwrite A \\x03\nwait A signal INT 2s\n");
  run_start (&run, "--pty", "--script", "t.script", "--exit-after-script", "cat");
  int status = run_wait (&run);
  if (status != 0)
    g_error ("status %d; stderr:\n%s", status, run_err (&run));
  assert_err_has (&run, "pipe-harness: A was killed by signal 2 (");
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 11. Bare numbers are seconds */

static void
test_bare_seconds (void)
{
  Run run;
  g_autofree char *a = child ("idle");
  run_init (&run);
  script_file (&run, "expect A /never/ 1\n");
  gint64 start = tu_now_us ();
  run_start (&run, "--script", "t.script", a);
  g_assert_cmpint (run_wait (&run), ==, 3);
  g_assert_cmpint (ms_since (start), >=, 1000);
  g_assert_cmpint (ms_since (start), <, 4000);
  assert_err_has (&run, STEP_REPORT ("1", "expect A /never/ 1") "no matching line within 1s");
  run_clear (&run);

  g_autofree char *stubborn = child ("ignore-term");
  run_init (&run);
  script_file (&run, "expect A /^pid/\n");
  run_start (&run, "--kill-timeout", "1", "--script", "t.script", "--exit-after-script", stubborn);
  g_assert_true (tu_proc_wait_stderr (run.proc, "stopping A (SIGTERM)", WAIT_MS));
  start = tu_now_us ();
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_cmpint (ms_since (start), >=, 900);
  g_assert_cmpint (ms_since (start), <, 4000);
  assert_err_has (&run, "pipe-harness: stopping A (SIGKILL)\n");
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 12. Empty lines are lines */

static void
test_empty_line (void)
{
  Run run;
  g_autofree char *a = child ("args before '' after");
  run_init (&run);
  script_file (&run, "expect A /^before$/\nexpect A /^$/\nexpect A /^after$/\n");
  run_start (&run, "--script", "t.script", "--exit-after-script", a);
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_cmpstr (run_out (&run), ==, "A: before\nA: \nA: after\n");
  g_assert_null (strstr (run_err (&run), "WARNING"));
  g_assert_null (strstr (run_err (&run), "CRITICAL"));

  /* Without the empty line, the same expect fails. */
  g_autofree char *b = child ("args before after");
  run_clear (&run);
  run_init (&run);
  script_file (&run, "expect A /^before$/\nexpect A /^$/ 300ms\n");
  run_start (&run, "--script", "t.script", "--exit-after-script", b);
  g_assert_cmpint (run_wait (&run), ==, 3);
  assert_err_has (&run, STEP_REPORT ("2", "expect A /^$/ 300ms") "no matching line within 300ms");
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 13. Input ends a prompt */

/* Five runs where the prompt comes as soon as the answer, so before or
 * after the next input; two where it comes a millisecond after, so mostly
 * after the input, glued to the next answer. */
static void
test_prompt_rounds (void)
{
  for (int round = 0; round < 7; round++)
    {
      g_autofree char *a = child (round < 5 ? "prompt" : "prompt 1000");
      Run run;
      run_init (&run);
      script_file (&run, "expect A /^> $/\nrepeat 200\n  send A ${i}\n  expect A /^answer ${i}$/ 2s\nend\n");
      run_start (&run, "--script", "t.script", "--exit-after-script", a);
      int status = run_wait (&run);
      if (status != 0)
        g_error ("round %d: status %d; stderr:\n%s", round, status, run_err (&run));
      g_assert_cmpuint (tu_count (run_out (&run), "A: answer "), ==, 200);
      g_assert_null (strstr (run_out (&run), "> answer"));
      run_clear (&run);
    }
}

/* sqlite3 on a terminal: its prompt "sqlite> " and then its answers.
 * first: the script's first step, before the rounds. */
static void
prompt_sqlite (const char *first)
{
  g_autofree char *sqlite = g_find_program_in_path ("sqlite3");
  if (sqlite == NULL)
    {
      g_test_skip ("sqlite3 is not installed (scripts/test installs it)");
      return;
    }
  Run run;
  run_init (&run);
  g_autofree char *script = g_strconcat (
    first, "send A select 42;\nexpect A /^42$/ 2s\n"
    "repeat 20\n  send A select ${i} + 1000;\n  expect A /^10\\d\\d$/ 2s\nend\n"
    "send A select 'done';\nexpect A /^done$/ 2s\n", NULL);
  script_file (&run, script);
  run_start (&run, "--pty", "--script", "t.script", "--exit-after-script", "sqlite3");
  int status = run_wait (&run);
  /* A failure here does not end the test program: the tests after it
   * still run. */
  if (status != 0 || tu_count (run_out (&run), "\nA: 10") != 20)
    g_test_fail_printf ("status %d; stdout:\n%s\nstderr:\n%s", status, run_out (&run),
                        run_err (&run));
  run_clear (&run);
}

/* The prompt seen first: later prompts are known by their text. */
static void
test_prompt_sqlite (void)
{
  prompt_sqlite ("expect A /^sqlite> $/\n");
}

/* The first input sent before sqlite3 printed its first prompt: it waits
 * until sqlite3 has shown it, so it is not glued to the answer ("sqlite>
 * 42"). */
static void
test_prompt_sqlite_unseen (void)
{
  prompt_sqlite ("");
}

/* Several inputs sent before sqlite3 answers any: each prompt that comes
 * after them is cut off its answer. */
static void
test_prompt_sqlite_several (void)
{
  g_autofree char *sqlite = g_find_program_in_path ("sqlite3");
  if (sqlite == NULL)
    {
      g_test_skip ("sqlite3 is not installed (scripts/test installs it)");
      return;
    }
  for (int round = 0; round < 3; round++)
    {
      Run run;
      run_init (&run);
      script_file (&run, "expect A /^sqlite> $/\n"
                         "send A select 1;\nsend A select 2;\nsend A select 3;\n"
                         "expect A /^1$/ 2s\nexpect A /^2$/ 2s\nexpect A /^3$/ 2s\n");
      run_start (&run, "--pty", "--script", "t.script", "--exit-after-script", "sqlite3");
      int status = run_wait (&run);
      if (status != 0)
        g_test_fail_printf ("status %d; stdout:\n%s\nstderr:\n%s", status, run_out (&run),
                            run_err (&run));
      run_clear (&run);
    }
}

/* Several inputs that get no answer but the next prompt ("create table"),
 * sent before sqlite3 answers any: the prompts come one after another on
 * what looks like one line ("sqlite> sqlite> 60"), and each is cut off. */
static void
test_prompt_sqlite_silent (void)
{
  g_autofree char *sqlite = g_find_program_in_path ("sqlite3");
  if (sqlite == NULL)
    {
      g_test_skip ("sqlite3 is not installed (scripts/test installs it)");
      return;
    }
  for (int round = 0; round < 3; round++)
    {
      Run run;
      run_init (&run);
      script_file (&run, "expect A /^sqlite> $/\n"
                         "send A create table t (n);\n"
                         "send A insert into t values (6), (7);\n"
                         "send A select n * 10 from t;\n"
                         "expect A /^60$/ 2s\nexpect A /^70$/ 2s\n");
      run_start (&run, "--pty", "--script", "t.script", "--exit-after-script", "sqlite3");
      int status = run_wait (&run);
      if (status != 0)
        g_test_fail_printf ("status %d; stdout:\n%s\nstderr:\n%s", status, run_out (&run),
                            run_err (&run));
      run_clear (&run);
    }
}

/* Two inputs sent at once; the child prints the first prompt, stops for
 * longer than the unfinished-line delay (so the harness hands the prompt out
 * by itself), then the second prompt glued to the answer: that prompt is
 * cut off too. */
static void
test_prompt_slow_second (void)
{
  Run run;
  run_init (&run);
  script_file (&run, "expect A /^p> $/\nsend A one\nsend A two\nexpect A /^60$/ 2s\n");
  run_start (&run, "--shell", "--script", "t.script", "--exit-after-script",
             "printf 'p> '; read a; read b; printf 'p> '; sleep 0.4; printf 'p> 60\\n'");
  int status = run_wait (&run);
  if (status != 0)
    g_test_fail_printf ("status %d; stdout:\n%s\nstderr:\n%s", status, run_out (&run),
                        run_err (&run));
  run_clear (&run);
}

static void
test_prompt_json_partial (void)
{
  Run run;
  g_autofree char *a = child ("prompt");
  run_init (&run);
  script_file (&run, "expect A /^> $/\nsend A x\nexpect A /^answer x$/\n");
  run_start (&run, "--json", "--script", "t.script", "--exit-after-script", a);
  g_assert_cmpint (run_wait (&run), ==, 0);
  assert_out_has (&run, "\"name\":\"A\",\"stream\":\"stdout\",\"line\":\"> \",\"partial\":true}\n");
  assert_out_has (&run, "\"name\":\"A\",\"stream\":\"stdout\",\"line\":\"answer x\"}\n");
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 14. --match-max */

static void
test_match_max_window (void)
{
  Run run;
  g_autofree char *a = child ("flood 200 50");
  run_init (&run);
  /* 200 lines of 49 bytes: a window of 1 KiB holds the last 20. */
  script_file (&run, "sleep 500ms\nexpect A /^000000000 / 1s\n");
  run_start (&run, "--match-max", "1K", "--script", "t.script", a);
  g_assert_cmpint (run_wait (&run), ==, 3);
  assert_err_has (&run, STEP_REPORT ("2", "expect A /^000000000 / 1s")
                  "A exited with status 0 without printing a matching line (searched 20 lines; "
                  "180 earlier lines left the window unsearched (--match-max))\n");
  run_clear (&run);

  /* With the default window the line is found. */
  run_init (&run);
  script_file (&run, "sleep 500ms\nexpect A /^000000000 / 1s\n");
  run_start (&run, "--script", "t.script", a);
  g_assert_cmpint (run_wait (&run), ==, 0);
  run_clear (&run);
}

/* The largest memory the process ever had resident, in KiB. */
static long
vm_hwm_kib (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *status = NULL;
  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  const char *hwm = strstr (status, "VmHWM:");
  g_assert_nonnull (hwm);
  return atol (hwm + strlen ("VmHWM:"));
}

/* A child printing as fast as it can while an expect waits for a line that
 * never comes: the harness's memory stays bounded.  args: the child's. */
static void
match_max_memory (const char *args, const char *match_max, guint64 min_lines)
{
  Run run;
  g_autofree char *a = child (args);
  run_init (&run);
  script_file (&run, "expect A /never/ 2s\n");
  /* In a sanitized build, freed memory is not held back for checks. */
  g_autofree char *asan_options = asan_env ("quarantine_size_mb=0");
  run_start_full_flags (&run, (const char *[]) { asan_options, NULL }, TU_PROC_STDOUT_DISCARD,
                        (const char *[]) { "--match-max", match_max, "--script", "t.script", a,
                                           NULL });
  g_assert_true (tu_proc_wait_stderr (run.proc, "A started", WAIT_MS));
  tu_sleep_ms (1800);
  long hwm = vm_hwm_kib (tu_proc_pid (run.proc));
  g_assert_cmpint (run_wait (&run), ==, 3);
  g_test_message ("%s: the harness's VmHWM was %ld KiB", args, hwm);
  g_assert_cmpint (hwm, <, 32 * 1024);
  /* The report's last line numbers say how much went by. */
  g_assert_true (tu_proc_wait_stderr (run.proc, "searched", 0));
  const char *note = strstr (run_err (&run), "(searched ");
  guint64 searched = g_ascii_strtoull (note + strlen ("(searched "), NULL, 10);
  const char *left = strstr (note, "; ");
  guint64 dropped = left != NULL ? g_ascii_strtoull (left + 2, NULL, 10) : 0;
  g_test_message ("%s: %" G_GUINT64_FORMAT " lines went by", args, searched + dropped);
  g_assert_cmpuint (searched + dropped, >=, min_lines);
  run_clear (&run);
}

static void
test_match_max_memory (void)
{
  /* 100-byte lines: at least 50 MB of them. */
  match_max_memory ("flood-until-term 100", "1K", 500000);
}

/* Empty lines weigh nothing in bytes but still take memory. */
static void
test_match_max_memory_empty_lines (void)
{
  match_max_memory ("repeat 0 ''", "1K", 1000000);
}

/* ------------------------------------------------------------------ */
/* 15. Failure reports */

static void
test_report_consumed (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  run_init (&run);
  script_file (&run, "send A one\nexpect A /^got: one$/\nsend A two\nsend A three\n"
                     "expect A /^got: four$/ 500ms\n");
  run_start (&run, "--script", "t.script", a);
  g_assert_cmpint (run_wait (&run), ==, 3);
  assert_err_has (&run,
                  STEP_REPORT ("5", "expect A /^got: four$/ 500ms")
                  "no matching line within 500ms (searched 2 lines)\n"
                  "pipe-harness: A printed last ('=' marks lines earlier steps consumed, "
                  "'|' lines still unmatched):\n"
                  "pipe-harness:   = got: one\n"
                  "pipe-harness:   | got: two\n"
                  "pipe-harness:   | got: three\n");
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 16. Costly regexes */

static void
test_costly_regex_fails_fast (void)
{
  Run run;
  g_autofree char *as = g_strnfill (40, 'a');
  g_autofree char *line = g_strconcat (as, "b", NULL);
  g_autofree char *args = g_strdup_printf ("repeat 300 %s", line);
  g_autofree char *a = child (args);
  run_init (&run);
  script_file (&run, "expect A /^(a+)+$/ 10s\n");
  run_start (&run, "--script", "t.script", a);
  g_assert_true (tu_proc_wait_stderr (run.proc, "A started", WAIT_MS));
  gint64 start = tu_now_us ();
  g_assert_cmpint (run_wait (&run), ==, 3);
  g_assert_cmpint (ms_since (start), <, 1000);
  g_autofree char *report = g_strdup_printf (
    STEP_REPORT ("1", "expect A /^(a+)+$/ 10s") "matching /^(a+)+$/ costs too much on the line "
    "\"%s\" (a regex that backtracks without end: make it more specific)\n", line);
  assert_err_has (&run, report);
  run_clear (&run);
}

/* Lines that are costly to match, but not too costly, without end: the
 * harness still acts on SIGTERM at once. */
static void
test_costly_regex_sigterm (void)
{
  Run run;
  g_autofree char *as = g_strnfill (14, 'a');
  g_autofree char *line = g_strconcat (as, "b", NULL);
  g_autofree char *args = g_strdup_printf ("repeat 0 %s", line);
  g_autofree char *a = child (args);
  run_init (&run);
  script_file (&run, "expect A /^(a+)+$/ 30s\n");
  run_start_full_flags (&run, NULL, TU_PROC_STDOUT_DISCARD,
                        (const char *[]) { "--script", "t.script", a, NULL });
  GPid pid = pid_of (&run, "A");
  tu_sleep_ms (700);
  gint64 start = tu_now_us ();
  tu_proc_signal (run.proc, SIGTERM);
  g_assert_cmpint (run_wait (&run), ==, 128 + SIGTERM);
  g_assert_cmpint (ms_since (start), <, 1000);
  g_assert_null (strstr (run_err (&run), "costs too much"));
  assert_gone (pid);
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* 17. A start that cannot start */

static void
test_start_missing_command (void)
{
  Run run;
  run_init (&run);
  g_autofree char *missing = g_build_filename (run.tmp, "no-such-program", NULL);
  g_autofree char *a_args = g_strdup_printf ("args prog=%s", missing);
  g_autofree char *a = child (a_args);
  script_file (&run, "start B\nsleep 5s\n");
  run_start (&run, "--ready", "A=/^prog=(?<prog>\\S+)$/", "--hold", "B", "--script", "t.script",
             "--exit-after-script", a, "${prog} --flag");
  GPid pid_a = pid_of (&run, "A");
  g_assert_cmpint (run_wait (&run), ==, 3);
  g_autofree char *report = g_strdup_printf (STEP_REPORT ("1", "start B") "no such file: %s\n",
                                             missing);
  assert_err_has (&run, report);
  g_assert_null (strstr (run_err (&run), "B started"));
  assert_gone (pid_a);
  assert_clean (&run, only_script);
  run_clear (&run);
}

/* The program was there when the harness started, and gone by the step. */
static void
test_start_removed_command (void)
{
  Run run;
  run_init (&run);
  write_file (run.tmp, "prog", "#!/bin/sh\necho hi\n");
  g_autofree char *prog = g_build_filename (run.tmp, "prog", NULL);
  g_assert_cmpint (chmod (prog, 0755), ==, 0);
  g_autofree char *a = child ("idle");
  script_file (&run, "sleep 1s\nstart B\nsleep 5s\n");
  run_start (&run, "--hold", "B", "--script", "t.script", "--exit-after-script", a, "./prog");
  GPid pid_a = pid_of (&run, "A");
  g_assert_cmpint (unlink (prog), ==, 0);
  g_assert_cmpint (run_wait (&run), ==, 3);
  assert_err_has (&run, STEP_REPORT ("2", "start B") "no such file: ./prog\n");
  g_assert_null (strstr (run_err (&run), "B started"));
  assert_gone (pid_a);
  assert_clean (&run, only_script);
  run_clear (&run);
}

int
main (int argc, char **argv)
{
  static const AbnormalCase abnormal[] = {
    { END_SEGV_FROM_OUTSIDE, FALSE }, { END_SEGV_ITSELF, FALSE }, { END_EXIT_4, FALSE },
    { END_SEGV_FROM_OUTSIDE, TRUE }, { END_SEGV_ITSELF, TRUE }, { END_EXIT_4, TRUE },
  };
  static const char *const abnormal_names[] = { "segv-from-outside", "segv-itself", "exit-4" };

  /* No core file of a child killed by SIGSEGV lands in a test's folder. */
  const struct rlimit no_core = { 0, 0 };
  setrlimit (RLIMIT_CORE, &no_core);
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (abnormal); i++)
    {
      g_autofree char *path = g_strdup_printf ("/script/abnormal-end%s/%s",
                                               abnormal[i].exit_after_script ? "/exit-after-script" : "",
                                               abnormal_names[abnormal[i].end]);
      g_test_add_data_func (path, &abnormal[i], test_abnormal_end);
    }
  for (guint i = 0; i < G_N_ELEMENTS (end_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/script/caused-end/%u", i);
      g_test_add_data_func (path, &end_cases[i], test_caused_end);
    }
  g_test_add_func ("/script/exit-after/own-stop", test_exit_after_own_stop);
  g_test_add_func ("/script/exit-after/own-failure", test_exit_after_own_failure);
  g_test_add_func ("/script/ready/order", test_ready_order);
  g_test_add_func ("/script/ready/order-needed", test_ready_order_needed);
  g_test_add_func ("/script/ready/exit-first", test_ready_exit_first);
  g_test_add_func ("/script/ready/timeout", test_ready_timeout);
  g_test_add_func ("/script/hold/start", test_hold_start);
  g_test_add_func ("/script/hold/start-again", test_hold_start_again);
  g_test_add_func ("/script/restart/keeps-fifo", test_restart_keeps_fifo);
  g_test_add_func ("/script/restart/kv", test_restart_kv);
  g_test_add_func ("/script/restart/kv-crash", test_restart_kv_crash);
  g_test_add_func ("/script/signal/names-numbers", test_signal_names_numbers);
  g_test_add_func ("/script/signal/stop-cont", test_signal_stop_cont);
  for (guint i = 0; i < G_N_ELEMENTS (step_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/script/steps/%u", i);
      g_test_add_data_func (path, &step_cases[i], test_step_case);
    }
  g_test_add_func ("/script/repeat-nested", test_repeat_nested);
  g_test_add_func ("/script/send-blanks-write-escapes", test_send_blanks_write_escapes);
  g_test_add_func ("/script/write-interrupt-pty", test_write_interrupt_pty);
  g_test_add_func ("/script/bare-seconds", test_bare_seconds);
  g_test_add_func ("/script/empty-line", test_empty_line);
  g_test_add_func ("/script/prompt/rounds", test_prompt_rounds);
  g_test_add_func ("/script/prompt/sqlite", test_prompt_sqlite);
  g_test_add_func ("/script/prompt/sqlite-unseen", test_prompt_sqlite_unseen);
  g_test_add_func ("/script/prompt/sqlite-several", test_prompt_sqlite_several);
  g_test_add_func ("/script/prompt/sqlite-silent", test_prompt_sqlite_silent);
  g_test_add_func ("/script/prompt/slow-second", test_prompt_slow_second);
  g_test_add_func ("/script/prompt/json-partial", test_prompt_json_partial);
  g_test_add_func ("/script/match-max/window", test_match_max_window);
  g_test_add_func ("/script/match-max/memory", test_match_max_memory);
  g_test_add_func ("/script/match-max/memory-empty-lines", test_match_max_memory_empty_lines);
  g_test_add_func ("/script/report/consumed", test_report_consumed);
  g_test_add_func ("/script/costly-regex/fails-fast", test_costly_regex_fails_fast);
  g_test_add_func ("/script/costly-regex/sigterm", test_costly_regex_sigterm);
  g_test_add_func ("/script/start/missing-command", test_start_missing_command);
  g_test_add_func ("/script/start/removed-command", test_start_removed_command);
  return g_test_run ();
}
