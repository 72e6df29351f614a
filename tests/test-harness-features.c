/* Integration tests of pipe-harness's features for everyday use: children
 * on a pseudo-terminal, JSON lines (read back by an independent parser),
 * timestamps, colour, the log, lines typed on stdin, and Procfiles. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness-run.h"

/* ------------------------------------------------------------------ */
/* Pseudo-terminals */

/* A program that buffers when its output is a pipe (sed) answers at once on
 * a terminal, and only when its input ends on a pipe. */
static gint64
answer_delay_us (gboolean pty)
{
  Run run;
  run_init (&run);
  write_file (run.tmp, "t.script", "send A hello\nsleep 2s\nclose A\nwait A 5s\n");
  if (pty)
    run_start (&run, "--pty", "--script", "t.script", "--exit-after-script", "sed 's/^/got /'");
  else
    run_start (&run, "--script", "t.script", "--exit-after-script", "sed 's/^/got /'");
  g_assert_true (tu_proc_wait_stderr (run.proc, "A started", WAIT_MS));
  gint64 started = tu_now_us ();
  g_assert_cmpint (run_wait (&run), ==, 0);
  const char *answer = strstr (run_out (&run), "A: got hello\n");
  g_assert_nonnull (answer);
  gint64 delay = tu_proc_stdout_arrival (run.proc, answer - run_out (&run)) - started;
  g_assert_nonnull (strstr (run_err (&run), "A exited with status 0"));
  run_clear (&run);
  return delay;
}

static void
test_pty_line_by_line (void)
{
  /* The script closes sed's input after 2 s; on a pipe the answer cannot
   * come before that.  (The start is when this test saw the child start,
   * a little after it did.) */
  g_assert_cmpint (answer_delay_us (TRUE), <, 1000 * 1000);
  g_assert_cmpint (answer_delay_us (FALSE), >=, 1500 * 1000);
}

/* A readline program: its answer comes at once, its input is not echoed. */
static void
test_pty_sqlite (void)
{
  Run run;
  g_autofree char *sqlite = g_find_program_in_path ("sqlite3");
  g_assert_nonnull (sqlite); /* the test set-up installs it */
  run_init (&run);
  write_file (run.tmp, "t.script",
              "expect A /sqlite> /\nsend A select 6*7;\nexpect A /^42$/ 2s\nsend A .quit\nwait A\n");
  run_start (&run, "--pty", "--script", "t.script", "sqlite3");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_null (strstr (run_out (&run), "select"));
  run_clear (&run);
}

static void
test_pty_is_terminal (void)
{
  Run run;
  run_init (&run);
  run_start (&run, "--pty=B", "--shell", "--wait-all",
             "test -t 1 && echo tty || echo pipe",
             "test -t 0 && test -t 1 && echo tty; stty size; echo $TERM; echo err >&2; "
             "(exec 3</dev/tty) && echo controlling; sleep 0.3");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "A: pipe\n"));
  /* B's lines in order (A's may come in between). */
  g_autoptr (GString) b_lines = g_string_new (NULL);
  g_auto (GStrv) lines = g_strsplit (run_out (&run), "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "B: "))
      g_string_append_printf (b_lines, "%s\n", lines[i]);
  g_assert_cmpstr (b_lines->str, ==, "B: tty\nB: 24 80\nB: dumb\nB: controlling\n");
  g_assert_nonnull (strstr (run_out (&run), "B! err\n"));
  run_clear (&run);
}

/* Everything a child wrote to its terminal is read before it is reported
 * gone, and the end of the terminal is not an error. */
static void
test_pty_drain (void)
{
  Run run;
  g_autofree char *a = child ("flood 20000 50");
  run_init (&run);
  run_start (&run, "--pty", a);
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_cmpuint (tu_count (run_out (&run), "\nA: "), ==, 20000 - 1);
  g_assert_nonnull (strstr (run_out (&run), "A: 000019999 "));
  g_assert_null (strstr (run_err (&run), "reading"));
  run_clear (&run);
}

/* close on a terminal ends the input of a program that sets its terminal
 * up only later, raw or canonical, whenever it does. */
static void
test_pty_close_late_setup (void)
{
  static const char *const modes[] = { "raw", "canon" };
  for (guint i = 0; i < 2 * G_N_ELEMENTS (modes); i++)
    {
      Run run;
      g_autofree char *args = g_strdup_printf ("tty-late %s", modes[i % 2]);
      g_autofree char *a = child (args);
      run_init (&run);
      write_file (run.tmp, "t.script", "close A\nwait A 2s\n");
      run_start (&run, "--pty", "--script", "t.script", "--exit-after-script", a);
      g_assert_cmpint (run_wait (&run), ==, 0);
      g_assert_cmpstr (run_out (&run), ==, "A: ready\nA: eof\n");
      g_assert_nonnull (strstr (run_err (&run), "A exited with status 0"));
      run_clear (&run);
    }
}

/* The python REPL, whose readline sets the terminal up as it starts. */
static void
test_pty_close_python (void)
{
  g_autofree char *python = g_find_program_in_path ("python3");
  g_assert_nonnull (python);
  for (int i = 0; i < 20; i++)
    {
      Run run;
      run_init (&run);
      write_file (run.tmp, "t.script", "close py\nwait py 2s\n");
      run_start (&run, "--pty", "--names", "py", "--script", "t.script",
                 "--exit-after-script", python);
      g_assert_cmpint (run_wait (&run), ==, 0);
      g_assert_nonnull (strstr (run_err (&run), "py exited with status 0"));
      run_clear (&run);
    }
}

static void
test_pty_unknown_name (void)
{
  Run run;
  run_init (&run);
  run_start (&run, "--pty=A,X", "true");
  g_assert_cmpint (run_wait (&run), ==, 2);
  g_assert_cmpstr (run_err (&run), ==,
                   "pipe-harness: --pty: there is no child named 'X' (the children are A)\n");
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* Job control, on a terminal of the harness's own */

/* Starts argv (a full command line) in run->tmp, its stdin a terminal of
 * which it leads the session and is the foreground process group. */
static void
start_on_terminal (Run *run, const char *const *argv)
{
  g_autofree char *runtime = g_strdup_printf ("XDG_RUNTIME_DIR=%s", run->tmp);
  const char *env[] = { runtime, NULL };
  run->proc = tu_proc_start_full (argv, run->tmp, env, TU_PROC_STDIN_TERMINAL);
}

/* The state letter /proc shows for pid (R, S, T, Z...), or 0. */
static char
proc_state (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  const char *paren;
  if (!g_file_get_contents (path, &stat, NULL, NULL) || (paren = strrchr (stat, ')')) == NULL)
    return 0;
  return paren[2];
}

/* Waits until pid is stopped (or, stopped FALSE, is not); FALSE after
 * WAIT_MS. */
static gboolean
wait_stopped (GPid pid, gboolean stopped)
{
  for (int i = 0; i < WAIT_MS / 10; i++)
    {
      if ((proc_state (pid) == 'T') == stopped)
        return TRUE;
      tu_sleep_ms (10);
    }
  return FALSE;
}

static void
type_keys (Run *run, const char *keys)
{
  int master = tu_proc_terminal (run->proc);
  g_assert_cmpint (write (master, keys, strlen (keys)), ==, (gssize) strlen (keys));
}

/* A person at the terminal can do what a script can: ":close", ":start",
 * ":signal", ":restart" act at once and say so; "::text" is the line
 * ":text"; a line marked with a name no child has still goes to the stdin
 * target, with a warning. */
static void
test_interactive_commands (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  g_autofree char *b = child ("signals");
  run_init (&run);
  const char *argv[] = { PIPE_HARNESS, "--wait-all", "--stdin-target", "A", "--pty=B",
                         a, b, NULL };
  start_on_terminal (&run, argv);
  g_assert_true (tu_proc_wait_stdout (run.proc, "B: pid ", WAIT_MS));
  GPid first_b = pid_of (&run, "B");

  type_keys (&run, ":help\n");
  g_assert_true (tu_proc_wait_stderr (run.proc, "  :restart NAME", WAIT_MS));
  type_keys (&run, "::colon\n");
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: got: :colon\n", WAIT_MS));
  type_keys (&run, "Z: zed\n");
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: got: Z: zed\n", WAIT_MS));
  g_assert_true (tu_proc_wait_stderr (run.proc, "stdin: no child is named 'Z' (the children "
                                      "are A, B): the line went to A as it is\n", WAIT_MS));

  type_keys (&run, ":close A\n");
  g_assert_true (tu_proc_wait_stderr (run.proc, "pipe-harness: closed A's input\n", WAIT_MS));
  g_assert_true (tu_proc_wait_stderr (run.proc, "pipe-harness: A exited with status 0\n", WAIT_MS));
  type_keys (&run, ":start A\nA: again\n");
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: got: again\n", WAIT_MS));

  type_keys (&run, ":signal B USR1\n");
  g_assert_true (tu_proc_wait_stdout (run.proc, "B: got 10\n", WAIT_MS)); /* SIGUSR1 */
  type_keys (&run, ":restart B\n");
  g_assert_true (tu_proc_wait_stderr (run.proc, "pipe-harness: restarting B\n", WAIT_MS));
  g_assert_true (tu_proc_wait_stdout (run.proc, "\nB: pid ", WAIT_MS));
  for (int i = 0; i < 100 && tu_count (run_err (&run), "B started (pid ") < 2; i++)
    tu_sleep_ms (20);
  g_assert_cmpuint (tu_count (run_err (&run), "B started (pid "), ==, 2);
  assert_gone (first_b);

  type_keys (&run, ":bogus\n:expect A /x/\n:close X\n");
  g_assert_true (tu_proc_wait_stderr (run.proc, "stdin:1: unknown step 'bogus'", WAIT_MS));
  g_assert_true (tu_proc_wait_stderr (run.proc, "stdin: expect A /x/: not a command here", WAIT_MS));
  g_assert_true (tu_proc_wait_stderr (run.proc, "stdin:1: unknown child 'X'", WAIT_MS));

  tu_proc_signal (run.proc, SIGTERM);
  g_assert_cmpint (run_wait (&run), ==, 128 + SIGTERM);
  run_clear (&run);
}

/* Started with & and brought back with fg, the harness reads its terminal:
 * after a stop (fg sends SIGCONT), and without one (bash's fg of a running
 * job sends nothing).  bash does job control on its stderr: the terminal. */
static void
job_control_fg (const char *before_fg)
{
  Run run;
  g_autofree char *a = child ("echo");
  run_init (&run);
  g_autofree char *script = g_strdup_printf (
    "exec 3>&2 2>/dev/tty; set -m; \"$0\" \"$@\" 2>&3 & echo \"harness $!\" >&3; "
    "sleep 0.5; %s; echo foreground >&3; fg", before_fg);
  const char *argv[] = { "/bin/bash", "-c", script,
                         PIPE_HARNESS, "--stdin-target", "A", a, NULL };
  start_on_terminal (&run, argv);
  g_autofree char *harness = stderr_value (&run, "harness", " ");
  GPid pid = (GPid) g_ascii_strtoll (harness, NULL, 10);
  g_assert_true (tu_proc_wait_stderr (run.proc, "foreground", WAIT_MS));
  tu_sleep_ms (200);
  type_keys (&run, "hello\n");
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: got: hello\n", WAIT_MS));
  kill (pid, SIGTERM);
  g_assert_cmpint (run_wait (&run), ==, 128 + SIGTERM);
  run_clear (&run);
}

static void
test_job_control_fg (void)
{
  job_control_fg ("kill -STOP %1; until jobs -s | grep -q .; do sleep 0.05; done");
  job_control_fg ("true");
}

/* Ctrl-Z stops the children with the harness; SIGCONT resumes them all. */
static void
test_job_control_ctrl_z (void)
{
  Run run;
  g_autofree char *a = child ("idle");
  g_autofree char *b = child ("idle");
  run_init (&run);
  const char *argv[] = { PIPE_HARNESS, a, b, NULL };
  start_on_terminal (&run, argv);
  GPid pid = tu_proc_pid (run.proc), pid_a = pid_of (&run, "A"), pid_b = pid_of (&run, "B");
  g_assert_true (tu_proc_wait_stdout (run.proc, "B: pid", WAIT_MS));
  type_keys (&run, "\032"); /* ^Z */
  g_assert_true (wait_stopped (pid, TRUE));
  g_assert_true (wait_stopped (pid_a, TRUE));
  g_assert_true (wait_stopped (pid_b, TRUE));
  kill (pid, SIGCONT);
  g_assert_true (wait_stopped (pid, FALSE));
  g_assert_true (wait_stopped (pid_a, FALSE));
  g_assert_true (wait_stopped (pid_b, FALSE));
  g_assert_null (strstr (run_err (&run), "was stopped"));
  run_stop (&run);
  g_assert_false (pid_alive (pid_a));
}

/* A child stopped for reading the terminal is reported, not left silent. */
static void
test_job_control_child_reads_terminal (void)
{
  Run run;
  run_init (&run);
  const char *argv[] = { PIPE_HARNESS, "--wait-all", "--shell",
                         "read line < /dev/tty; echo read", "sleep 100", NULL };
  start_on_terminal (&run, argv);
  GPid pid_a = pid_of (&run, "A");
  g_assert_true (tu_proc_wait_stderr (run.proc, "A was stopped by SIGTTIN: it tried to "
                                                "read the terminal\n", WAIT_MS));
  run_stop (&run);
  g_assert_false (pid_alive (pid_a));
}

/* ------------------------------------------------------------------ */
/* JSON */

/* Reads the JSON lines back with Python's json module, checks the keys of
 * each object and rebuilds each stream's exact bytes; prints
 * "name/stream base64" per stream. */
static const char rebuild_py[] =
  "import base64, json, sys\n"
  "out = {}\n"
  "for raw in open(sys.argv[1], 'rb'):\n"
  "    rec = json.loads(raw)\n"
  "    assert set(rec) >= {'time', 'name', 'stream', 'line'}, rec\n"
  "    assert rec['stream'] in ('stdout', 'stderr', 'input', 'event'), rec\n"
  "    data = base64.b64decode(rec['line_base64']) if 'line_base64' in rec else rec['line'].encode()\n"
  "    if not rec.get('partial'):\n"
  "        data += b'\\n'\n"
  "    key = rec['name'] + '/' + rec['stream']\n"
  "    out[key] = out.get(key, b'') + data\n"
  "for key in sorted(out):\n"
  "    print(key, base64.b64encode(out[key]).decode())\n";

static char *
rebuild_json (const char *tmp, const char *json)
{
  g_autofree char *path = g_build_filename (tmp, "out.json", NULL);
  const char *argv[] = { "python3", "-c", rebuild_py, path, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *python = g_find_program_in_path ("python3");
  g_assert_nonnull (python);
  argv[0] = python;
  write_file (tmp, "out.json", json);
  int status = tu_run (argv, NULL, WAIT_MS, &out, &err);
  if (status != 0)
    g_error ("the JSON lines do not parse: %s", err);
  return g_steal_pointer (&out);
}

static char *
stream_line (const char *key, const char *bytes, gsize len)
{
  g_autofree char *b64 = g_base64_encode ((const guchar *) bytes, len);
  return g_strdup_printf ("%s %s\n", key, b64);
}

/* Every byte comes back exactly: NUL, invalid UTF-8, CR, an unfinished line
 * and the input sent. */
static void
test_json_lossless (void)
{
  static const char bytes_line[] = "nul\0here \xff\xfe bad\r cr\n";
  Run run;
  g_autofree char *a = child ("bytes");
  g_autofree char *b = child ("echo");
  run_init (&run);
  write_file (run.tmp, "t.script", "send B h\xc3\xa9llo\nexpect B /got/\nclose B\nwait B\n");
  run_start (&run, "--json", "--shell", "--wait-all", "--script", "t.script", a, b,
             "printf 'no newline'; printf 'to stderr\\n' >&2");
  g_assert_cmpint (run_wait (&run), ==, 0);

  g_autofree char *rebuilt = rebuild_json (run.tmp, run_out (&run));
  g_autofree char *a_out = stream_line ("A/stdout", bytes_line, sizeof bytes_line - 1);
  g_autofree char *b_in = stream_line ("B/input", "h\xc3\xa9llo\n", 7);
  g_autofree char *b_out = stream_line ("B/stdout", "got: h\xc3\xa9llo\n", 12);
  g_autofree char *c_out = stream_line ("C/stdout", "no newline", 10);
  g_autofree char *c_err = stream_line ("C/stderr", "to stderr\n", 10);
  g_assert_nonnull (strstr (rebuilt, a_out));
  g_assert_nonnull (strstr (rebuilt, b_in));
  g_assert_nonnull (strstr (rebuilt, b_out));
  g_assert_nonnull (strstr (rebuilt, c_out));
  g_assert_nonnull (strstr (rebuilt, c_err));
  g_assert_nonnull (strstr (rebuilt, "pipe-harness/event "));
  g_assert_nonnull (strstr (run_out (&run), "\"line\":\"A exited with status 0\""));
  /* Events go to the JSON stream only, not to stderr too. */
  g_assert_null (strstr (run_err (&run), "exited with status"));
  g_assert_null (strstr (run_err (&run), "started"));
  run_clear (&run);

  /* Errors still show on stderr. */
  run_init (&run);
  write_file (run.tmp, "t.script", "expect A /never/ 100ms\n");
  run_start (&run, "--json", "--script", "t.script", "cat");
  g_assert_cmpint (run_wait (&run), ==, 3);
  g_assert_nonnull (strstr (run_err (&run), "t.script:1: expect A /never/ 100ms: no matching line"));
  run_clear (&run);
}

/* With stdout and stderr one file (2>&1), the harness's messages keep
 * their place among the children's lines: a child's lines come before
 * "exited", the line a script waited for before "done". */
static void
test_messages_in_order (void)
{
  Run run;
  run_init (&run);
  write_file (run.tmp, "t.script", "expect A /^150000$/\n");
  g_autofree char *command = g_strdup_printf ("exec '%s' --script t.script 'seq 1 200000' "
                                              "'sleep 30' 2>&1", PIPE_HARNESS);
  const char *argv[] = { "/bin/sh", "-c", command, NULL };
  g_autofree char *runtime = g_strdup_printf ("XDG_RUNTIME_DIR=%s", run.tmp);
  const char *env[] = { runtime, NULL };
  run.proc = tu_proc_start_full (argv, run.tmp, env, TU_PROC_DEFAULT);
  g_assert_cmpint (run_wait (&run), ==, 0);
  const char *out = run_out (&run);
  const char *matched = strstr (out, "A: 150000\n");
  const char *done = strstr (out, "pipe-harness: script t.script done\n");
  const char *last = strstr (out, "A: 200000\n");
  const char *exited = strstr (out, "pipe-harness: A exited with status 0\n");
  g_assert_nonnull (matched);
  g_assert_nonnull (done);
  g_assert_nonnull (last);
  g_assert_nonnull (exited);
  g_assert_true (matched < done);
  g_assert_true (last < exited);
  g_assert_cmpstr (run_err (&run), ==, "");
  run_clear (&run);
}

/* The first input to a child just started waits for its prompt; with
 * --json its record comes when it goes: after the prompt. */
static void
test_json_input_after_prompt (void)
{
  Run run;
  g_autofree char *a = child ("prompt");
  run_init (&run);
  write_file (run.tmp, "t.script", "send A hi\nexpect A /^answer hi$/\n");
  run_start (&run, "--json", "--script", "t.script", "--exit-after-script", a);
  g_assert_cmpint (run_wait (&run), ==, 0);
  const char *prompt = strstr (run_out (&run), "\"stream\":\"stdout\",\"line\":\"> \"");
  const char *input = strstr (run_out (&run), "\"stream\":\"input\",\"line\":\"hi\"");
  g_assert_nonnull (prompt);
  g_assert_nonnull (input);
  g_assert_true (prompt < input);
  run_clear (&run);
}

/* A step fails on a child that printed nothing through a pipe: the report
 * says it may be keeping its output in its buffer, and what to do.  On a
 * terminal there is no such hint. */
static void
test_silence_hint (void)
{
  for (int pty = 0; pty < 2; pty++)
    {
      Run run;
      run_init (&run);
      write_file (run.tmp, "t.script", "send A hello\nexpect A /HELLO/ 300ms\n");
      if (pty)
        run_start (&run, "--pty", "--script", "t.script", "sleep 5");
      else
        run_start (&run, "--script", "t.script", "tr a-z A-Z");
      g_assert_cmpint (run_wait (&run), ==, 3);
      const char *hint = "pipe-harness: A printed nothing: its stdout is a pipe, so it may be "
                         "keeping its output in its own buffer: try --pty=A";
      if (pty)
        {
          g_assert_null (strstr (run_err (&run), hint));
          g_assert_nonnull (strstr (run_err (&run), "pipe-harness: A printed nothing\n"));
        }
      else
        g_assert_nonnull (strstr (run_err (&run), hint));
      run_clear (&run);
    }
}

/* ------------------------------------------------------------------ */
/* Timestamps and colour */

static void
test_timestamps (void)
{
  Run run;
  run_init (&run);
  run_start (&run, "--timestamps", "--shell", "echo one; echo two >&2");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_auto (GStrv) lines = g_strsplit (run_out (&run), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  for (guint i = 0; i < 2; i++)
    g_assert_true (g_regex_match_simple ("^\\d\\d:\\d\\d:\\d\\d\\.\\d\\d\\d A[:!] (one|two)$",
                                         lines[i], 0, 0));
  run_clear (&run);
}

/* Runs the harness with its stdout on a terminal; returns what it showed. */
static char *
run_on_terminal (const char *color, gboolean no_color)
{
  int master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  char name[64];
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) env = g_get_environ ();
  GPid pid;
  const char *argv[] = { PIPE_HARNESS, "--quiet", color, "echo hello", NULL };

  g_assert_cmpint (master, >=, 0);
  g_assert_cmpint (grantpt (master), ==, 0);
  g_assert_cmpint (unlockpt (master), ==, 0);
  g_assert_cmpint (ptsname_r (master, name, sizeof name), ==, 0);
  int slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_assert_cmpint (slave, >=, 0);
  env = no_color ? g_environ_setenv (env, "NO_COLOR", "1", TRUE) : g_environ_unsetenv (env, "NO_COLOR");
  g_assert_true (g_spawn_async_with_pipes_and_fds (NULL, argv, (const char *const *) env,
                                                   G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                                   -1, slave, -1, NULL, NULL, 0, &pid,
                                                   NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  close (slave);

  GString *shown = g_string_new (NULL);
  g_autoptr (GArray) chunks = g_array_new (FALSE, FALSE, sizeof (TuChunk));
  tu_read_until_eof (master, WAIT_MS, shown, chunks); /* ends with EIO */
  int status;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  close (master);
  return g_string_free (shown, FALSE);
}

static void
test_color (void)
{
  static const char colored[] = "\033[1;36mA:\033[0m hello";
  g_autofree char *auto_tty = run_on_terminal ("--color=auto", FALSE);
  g_autofree char *auto_no_color = run_on_terminal ("--color=auto", TRUE);
  g_autofree char *always_no_color = run_on_terminal ("--color=always", TRUE);
  g_autofree char *never_tty = run_on_terminal ("--color=never", FALSE);
  g_assert_nonnull (strstr (auto_tty, colored));
  g_assert_null (strstr (auto_no_color, "\033"));
  g_assert_nonnull (strstr (auto_no_color, "A: hello"));
  g_assert_nonnull (strstr (always_no_color, colored));
  g_assert_null (strstr (never_tty, "\033"));

  /* On a pipe, auto means none. */
  Run run;
  run_init (&run);
  run_start (&run, "--color=auto", "echo hello");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_cmpstr (run_out (&run), ==, "A: hello\n");
  run_clear (&run);

  run_init (&run);
  run_start (&run, "--color=sometimes", "true");
  g_assert_cmpint (run_wait (&run), ==, 2);
  g_assert_cmpstr (run_err (&run), ==, "pipe-harness: --color: 'sometimes' is not auto, always or never\n");
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* The log */

static void
test_log (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  run_init (&run);
  g_autofree char *log = g_build_filename (run.tmp, "run.log", NULL);
  write_file (run.tmp, "run.log", "an earlier run\n");
  write_file (run.tmp, "t.script", "send A hello\nexpect A /got/\nclose A\n");
  run_start (&run, "--quiet", "--log", log, "--script", "t.script", a);
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_cmpstr (run_err (&run), ==, "");

  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (log, &text, NULL, NULL));
  g_assert_true (g_str_has_prefix (text, "an earlier run\npipe-harness: A reads its input from "));
  g_assert_nonnull (strstr (text, "\npipe-harness: A started (pid "));
  const char *input = strstr (text, "A< hello\n");
  const char *output = strstr (text, "A: got: hello\n");
  const char *exited = strstr (text, "pipe-harness: A exited with status 0\n");
  g_assert_nonnull (input);
  g_assert_true (input < output && output < exited);
  run_clear (&run);

  run_init (&run);
  run_start (&run, "--log", run.tmp, "true");
  g_assert_cmpint (run_wait (&run), ==, 2);
  g_assert_true (g_str_has_prefix (run_err (&run), "pipe-harness: --log "));
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* Lines typed on stdin */

static void
test_stdin_routing (void)
{
  Run run;
  run_init (&run);
  run_start (&run, "--wait-all", "--stdin-target", "B", "--names", "A,B", "head -1", "head -3");
  tu_proc_write (run.proc, "A: to a\nB:to b\nunmarked\nC: not a child\n");
  tu_proc_close_stdin (run.proc);
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "A: to a\n"));
  g_assert_nonnull (strstr (run_out (&run), "B: to b\nB: unmarked\nB: C: not a child\n"));
  run_clear (&run);

  /* Without a target, an unmarked line is refused. */
  run_init (&run);
  run_start (&run, "head -1");
  tu_proc_write (run.proc, "who gets this?\nA: me\n");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_err (&run), "pipe-harness: stdin: a line must start with a "
                                             "child's name and ':' (the children are A)"));
  g_assert_cmpstr (run_out (&run), ==, "A: me\n");
  run_clear (&run);
}

/* During the script, typed lines wait. */
static void
test_stdin_after_script (void)
{
  Run run;
  g_autofree char *a = child ("echo");
  run_init (&run);
  write_file (run.tmp, "t.script", "sleep 300ms\nsend A from the script\n");
  run_start (&run, "--script", "t.script", a);
  tu_proc_write (run.proc, "A: typed\n");
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: got: typed\n", WAIT_MS));
  g_assert_true (g_str_has_prefix (run_out (&run), "A: got: from the script\nA: got: typed\n"));
  run_stop (&run);
}

static void
append_bytes (GString *s, char byte, gsize n)
{
  gsize start = s->len;
  g_string_set_size (s, start + n);
  memset (s->str + start, byte, n);
}

/* A typed line goes whole to one child, up to 1 MiB; a longer one is
 * refused in one line, and none of it is sent. */
static void
test_stdin_long_line (void)
{
  Run run;
  g_autofree char *a = child ("lengths");
  g_autofree char *b = child ("lengths");
  g_autoptr (GString) typed = g_string_new (NULL);
  run_init (&run);
  run_start (&run, "--quiet", "--stdin-target", "B", a, b);

  g_string_append (typed, "A: ");
  append_bytes (typed, 'x', 100000);
  g_string_append (typed, "\nA: ");
  append_bytes (typed, 'y', 1048576 - 3); /* 1 MiB in all */
  g_string_append (typed, "\nA: ");
  append_bytes (typed, 'z', 1048576);
  g_string_append (typed, "\nB: after\n");
  tu_proc_write (run.proc, typed->str);
  g_assert_true (tu_proc_wait_stdout (run.proc, "B: 5 a\n", WAIT_MS));
  g_assert_true (tu_proc_wait_stdout (run.proc, "A: 1048573 y\n", WAIT_MS));
  g_assert_nonnull (strstr (run_out (&run), "A: 100000 x\n"));
  g_assert_cmpuint (tu_count (run_out (&run), "\n"), ==, 3);
  g_assert_cmpstr (run_err (&run), ==, "pipe-harness: stdin: a line longer than 1 MiB "
                                       "(1048576 bytes) was not sent\n");
  run_stop (&run);
}

/* ------------------------------------------------------------------ */
/* Procfiles */

static void
test_procfile (void)
{
  Run run;
  run_init (&run);
  write_file (run.tmp, "Procfile", "# two services\nweb: echo web up\nworker: echo $((6*7)) >&2\n");
  run_start (&run, "--wait-all", "--procfile", "Procfile");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "web: web up\n"));
  g_assert_nonnull (strstr (run_out (&run), "worker! 42\n"));
  run_clear (&run);

  run_init (&run);
  write_file (run.tmp, "Procfile", "web: echo\n");
  run_start (&run, "--procfile", "Procfile", "true");
  g_assert_cmpint (run_wait (&run), ==, 2);
  g_assert_nonnull (strstr (run_err (&run), "give no COMMAND and no --names"));
  run_clear (&run);

  run_init (&run);
  write_file (run.tmp, "Procfile", "web echo\n");
  run_start (&run, "--procfile", "Procfile");
  g_assert_cmpint (run_wait (&run), ==, 2);
  g_assert_nonnull (strstr (run_err (&run), "Procfile:1: expected 'name: command'"));
  run_clear (&run);
}

/* A Procfile and the .env beside it, unchanged from foreman: every child
 * gets the .env's variables and its own PORT, 100 apart; the shell expands
 * its forms, ${X:-default} included. */
static void
test_procfile_env (void)
{
  Run run;
  const char *procfile = "web: echo web $PORT ${DATABASE_URL} ${MISSING:-fallback}\n"
                         "worker: echo worker $PORT \"$GREETING\" \"$QUOTED\"\n";
  run_init (&run);
  write_file (run.tmp, "Procfile", procfile);
  write_file (run.tmp, ".env", "# settings\n"
                               "DATABASE_URL=postgres://localhost/dev # a comment\n"
                               "export GREETING=\"hi\\tthere\"\n"
                               "QUOTED='a \"b\" c'\n");
  run_start (&run, "--wait-all", "--procfile", "Procfile");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "web: web 5000 postgres://localhost/dev fallback\n"));
  g_assert_nonnull (strstr (run_out (&run), "worker: worker 5100 hi\tthere a \"b\" c\n"));
  run_clear (&run);

  /* --port-base, and --no-env; PORT from the environment is the base too. */
  run_init (&run);
  write_file (run.tmp, "Procfile", procfile);
  write_file (run.tmp, ".env", "DATABASE_URL=x\n");
  run_start (&run, "--wait-all", "--no-env", "--port-base", "7000", "--procfile", "Procfile");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "web: web 7000 fallback\n"));
  g_assert_nonnull (strstr (run_out (&run), "worker: worker 7100"));
  run_clear (&run);

  run_init (&run);
  write_file (run.tmp, "Procfile", procfile);
  run_start_full (&run, (const char *[]) { "PORT=8000", NULL },
                  (const char *[]) { "--wait-all", "--procfile", "Procfile", NULL });
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "worker: worker 8100"));
  run_clear (&run);

  /* --env without a Procfile: ${VAR} in a command comes from it too. */
  run_init (&run);
  write_file (run.tmp, "vars.env", "WORD=bird\n");
  run_start (&run, "--env", "vars.env", "echo the ${WORD}");
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "A: the bird\n"));
  run_clear (&run);

  /* A malformed .env is refused, naming its line. */
  run_init (&run);
  write_file (run.tmp, "Procfile", procfile);
  write_file (run.tmp, ".env", "A=1\nB=\"unclosed\n");
  run_start (&run, "--procfile", "Procfile");
  g_assert_cmpint (run_wait (&run), ==, 2);
  g_assert_cmpstr (run_err (&run), ==, "pipe-harness: ./.env:2: the value of B has no "
                                       "closing quote\n");
  run_clear (&run);
}

/* ------------------------------------------------------------------ */
/* The main job, and what is installed */

/* The bundled client and server, driven by the bundled script, as the
 * README's first command does. */
static void
test_main_job (void)
{
  Run run;
  g_autofree char *script = g_build_filename (SOURCE_ROOT, "part6-harness", "examples",
                                              "kv.script", NULL);
  g_autofree char *server = g_strdup_printf ("%s --port 0", KV_SERVER);
  g_autofree char *client = g_strdup_printf ("%s 127.0.0.1 ${port}", KV_CLIENT);
  run_init (&run);
  run_start (&run, "--names", "server,client",
             "--ready", "server=/listening on 127\\.0\\.0\\.1 port (?<port>\\d+)/",
             "--script", script, "--exit-after-script", server, client);
  g_assert_cmpint (run_wait (&run), ==, 0);
  g_assert_nonnull (strstr (run_out (&run), "client: welcome alice\n"));
  g_assert_nonnull (strstr (run_out (&run), "client: key9 = value9\n"));
  g_assert_nonnull (strstr (run_out (&run), "client: color = blue\n"));
  g_assert_nonnull (strstr (run_out (&run), "server: client 1: alice set color\n"));
  g_assert_nonnull (strstr (run_err (&run), "script "));
  assert_folder_holds (run.tmp, NULL);
  run_clear (&run);
}

static char *
option_names (void)
{
  const char *argv[] = { PIPE_HARNESS, "--help", NULL };
  g_autofree char *help = NULL;
  g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, &help, NULL), ==, 0);
  g_autoptr (GString) names = g_string_new (NULL);
  g_autoptr (GRegex) option = g_regex_new ("^\\s+(?:-\\w, )?--([a-z-]+)", G_REGEX_MULTILINE, 0, NULL);
  g_autoptr (GMatchInfo) match = NULL;
  for (g_regex_match (option, help, 0, &match); g_match_info_matches (match);
       g_match_info_next (match, NULL))
    {
      g_autofree char *name = g_match_info_fetch (match, 1);
      g_string_append_printf (names, "%s ", name);
    }
  return g_string_free (g_steal_pointer (&names), FALSE);
}

static void
test_version_and_help (void)
{
  const char *argv[] = { PIPE_HARNESS, "--version", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "pipe-harness " PROJECT_VERSION "\n");

  g_autofree char *names = option_names ();
  g_auto (GStrv) list = g_strsplit (g_strstrip (names), " ", -1);
  g_assert_cmpuint (g_strv_length (list), >=, 19);

  g_autofree char *man_path = g_build_filename (SOURCE_ROOT, "part6-harness", "pipe-harness.1.in", NULL);
  g_autofree char *man = NULL;
  g_assert_true (g_file_get_contents (man_path, &man, NULL, NULL));
  const char *shells[] = { "bash", "zsh", "fish" };
  char *completions[G_N_ELEMENTS (shells)];
  for (guint s = 0; s < G_N_ELEMENTS (shells); s++)
    {
      g_autofree char *file = g_strdup_printf ("pipe-harness.%s-completion", shells[s]);
      g_autofree char *path = g_build_filename (SOURCE_ROOT, "part6-harness", file, NULL);
      g_assert_true (g_file_get_contents (path, &completions[s], NULL, NULL));
    }
  for (guint i = 0; list[i] != NULL; i++)
    {
      /* roff writes each minus as \- */
      g_autoptr (GString) man_form = g_string_new ("\\-\\-");
      for (const char *c = list[i]; *c != '\0'; c++)
        if (*c == '-')
          g_string_append (man_form, "\\-");
        else
          g_string_append_c (man_form, *c);
      if (strstr (man, man_form->str) == NULL)
        g_error ("the man page does not describe --%s", list[i]);
      /* "--name" in bash's and zsh's, "-l name" in fish's */
      for (guint s = 0; s < G_N_ELEMENTS (shells); s++)
        {
          g_autofree char *form = g_strdup_printf (s == 2 ? "-l %s " : "--%s", list[i]);
          if (strstr (completions[s], form) == NULL)
            g_error ("the %s completion does not offer --%s", shells[s], list[i]);
        }
    }
  for (guint s = 0; s < G_N_ELEMENTS (shells); s++)
    g_free (completions[s]);
}

static void
test_bash_completion (void)
{
  g_autofree char *completion = g_build_filename (SOURCE_ROOT, "part6-harness",
                                                  "pipe-harness.bash-completion", NULL);
  g_autofree char *script = g_strdup_printf (
    "source '%s'; COMP_WORDS=(pipe-harness --times); COMP_CWORD=1; _pipe_harness; echo \"${COMPREPLY[@]}\"; "
    "COMP_WORDS=(pipe-harness --color=al); _pipe_harness; echo \"${COMPREPLY[@]}\"; "
    "COMP_WORDS=(pipe-harness test --sh); COMP_CWORD=2; _pipe_harness; echo \"${COMPREPLY[@]}\"", completion);
  const char *argv[] = { "/bin/bash", "-c", script, NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "--timestamps\nalways\n--shard\n");
}

/* meson install puts the tool, its man page and its completion in place. */
static void
test_install (void)
{
  g_autofree char *tmp = tu_tmpdir_new ();
  g_autofree char *meson = g_find_program_in_path ("meson");
  const char *argv[] = { meson, "install", "--no-rebuild", "--quiet", "-C", BUILD_ROOT,
                         "--destdir", tmp, NULL };
  g_autofree char *err = NULL;
  g_assert_nonnull (meson);
  if (tu_run (argv, NULL, 60000, NULL, &err) != 0)
    g_error ("meson install failed: %s", err);

  g_autofree char *bin = g_build_filename (tmp, PREFIX, "bin", "pipe-harness", NULL);
  g_autofree char *man = g_build_filename (tmp, PREFIX, MANDIR, "man1", "pipe-harness.1", NULL);
  g_autofree char *completion = g_build_filename (tmp, PREFIX, DATADIR, "bash-completion",
                                                  "completions", "pipe-harness", NULL);
  g_assert_true (g_file_test (bin, G_FILE_TEST_IS_EXECUTABLE));
  g_assert_true (g_file_test (completion, G_FILE_TEST_IS_REGULAR));
  g_autofree char *page = NULL;
  g_assert_true (g_file_get_contents (man, &page, NULL, NULL));
  g_assert_nonnull (strstr (page, "\"pipe-harness " PROJECT_VERSION "\""));

  const char *version[] = { bin, "--version", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (tu_run (version, NULL, WAIT_MS, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "pipe-harness " PROJECT_VERSION "\n");
  tu_tmpdir_remove (tmp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/features/pty/line-by-line", test_pty_line_by_line);
  g_test_add_func ("/features/pty/sqlite", test_pty_sqlite);
  g_test_add_func ("/features/pty/is-terminal", test_pty_is_terminal);
  g_test_add_func ("/features/pty/drain", test_pty_drain);
  g_test_add_func ("/features/pty/unknown-name", test_pty_unknown_name);
  g_test_add_func ("/features/pty/close-late-setup", test_pty_close_late_setup);
  g_test_add_func ("/features/pty/close-python", test_pty_close_python);
  g_test_add_func ("/features/interactive-commands", test_interactive_commands);
  g_test_add_func ("/features/job-control/fg", test_job_control_fg);
  g_test_add_func ("/features/job-control/ctrl-z", test_job_control_ctrl_z);
  g_test_add_func ("/features/job-control/child-reads-terminal",
                   test_job_control_child_reads_terminal);
  g_test_add_func ("/features/json/lossless", test_json_lossless);
  g_test_add_func ("/features/timestamps", test_timestamps);
  g_test_add_func ("/features/color", test_color);
  g_test_add_func ("/features/log", test_log);
  g_test_add_func ("/features/stdin/routing", test_stdin_routing);
  g_test_add_func ("/features/stdin/after-script", test_stdin_after_script);
  g_test_add_func ("/features/stdin/long-line", test_stdin_long_line);
  g_test_add_func ("/features/silence-hint", test_silence_hint);
  g_test_add_func ("/features/messages-in-order", test_messages_in_order);
  g_test_add_func ("/features/json-input-after-prompt", test_json_input_after_prompt);
  g_test_add_func ("/features/procfile", test_procfile);
  g_test_add_func ("/features/procfile-env", test_procfile_env);
  g_test_add_func ("/features/main-job", test_main_job);
  g_test_add_func ("/features/version-and-help", test_version_and_help);
  g_test_add_func ("/features/bash-completion", test_bash_completion);
  g_test_add_func ("/features/install", test_install);
  return g_test_run ();
}
