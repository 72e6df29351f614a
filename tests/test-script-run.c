/* Unit tests of pipe-harness's script runner: fed lines, starts and ends by
 * hand, it sends, expects, captures, loops, controls children through its
 * hooks and gives the verdicts testing demands: an abnormal end fails, an
 * end the script asked for does not, every failure says what happened. */
#include <gio/gio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "script-run.h"

static const char *const names[] = { "server", "client", NULL };

typedef struct {
  GString *sent[2];
  gboolean closed[2];
  GString *actions;   /* "start server;", "signal client 15;", … */
  gboolean full;      /* send: the queue is full, try later */
  gboolean finished;
  char *failure;
} Recorder;

static gboolean
record_send (gpointer data, guint child, const char *text, gsize len, GError **error)
{
  Recorder *rec = data;
  if (rec->full)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "%s is not reading",
                   names[child]);
      return FALSE;
    }
  g_string_append_len (rec->sent[child], text, len);
  return TRUE;
}

static void
record_close (gpointer data, guint child)
{
  ((Recorder *) data)->closed[child] = TRUE;
}

static gboolean
record_start (gpointer data, guint child, GError **error)
{
  Recorder *rec = data;
  (void) error;
  g_string_append_printf (rec->actions, "start %s;", names[child]);
  return TRUE;
}

static gboolean
record_signal (gpointer data, guint child, int signum, GError **error)
{
  Recorder *rec = data;
  (void) error;
  g_string_append_printf (rec->actions, "signal %s %d;", names[child], signum);
  return TRUE;
}

static gboolean
record_restart (gpointer data, guint child, GError **error)
{
  Recorder *rec = data;
  (void) error;
  g_string_append_printf (rec->actions, "restart %s;", names[child]);
  return TRUE;
}

static void
record_finished (gpointer data, const char *failure)
{
  Recorder *rec = data;
  g_assert_false (rec->finished); /* once only */
  rec->finished = TRUE;
  rec->failure = g_strdup (failure);
}

static const ScriptHooks hooks = {
  .send = record_send,
  .close_input = record_close,
  .start = record_start,
  .signal = record_signal,
  .restart = record_restart,
  .finished = record_finished,
};

typedef struct {
  Recorder rec;
  Script *script;
  ScriptRunner *runner;
} Fixture;

/* A runner for text, with variables known before it (may be NULL), no
 * child started yet. */
static ScriptRunner *
runner_new_bare (Fixture *f, const char *text, GHashTable *vars, gsize match_max)
{
  g_autoptr (GError) error = NULL;
  g_autofree char **var_names = vars ? (char **) g_hash_table_get_keys_as_array (vars, NULL)
                                     : NULL;
  f->rec = (Recorder) { .sent = { g_string_new (NULL), g_string_new (NULL) },
                        .actions = g_string_new (NULL) };
  f->script = script_parse ("t.script", text, strlen (text), names,
                            (const char *const *) var_names, &error);
  g_assert_no_error (error);
  f->runner = script_runner_new (f->script, names, vars, match_max, &hooks, &f->rec);
  return f->runner;
}

/* A runner for text, both children running and up. */
static ScriptRunner *
runner_new (Fixture *f, const char *text, gsize match_max)
{
  runner_new_bare (f, text, NULL, match_max);
  for (guint i = 0; i < 2; i++)
    {
      script_runner_child_started (f->runner, i);
      script_runner_child_ready (f->runner, i);
    }
  return f->runner;
}

static void
fixture_clear (Fixture *f)
{
  script_runner_free (f->runner);
  script_free (f->script);
  g_string_free (f->rec.sent[0], TRUE);
  g_string_free (f->rec.sent[1], TRUE);
  g_string_free (f->rec.actions, TRUE);
  g_free (f->rec.failure);
}

static void
line (ScriptRunner *r, guint child, const char *text)
{
  script_runner_line (r, child, text, strlen (text));
}

static gboolean
on_give_up (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until the script finished; fails the test after
 * timeout_ms. */
static void
iterate_until_finished (Recorder *rec, guint timeout_ms)
{
  gboolean late = FALSE;
  guint timer = g_timeout_add (timeout_ms, on_give_up, &late);
  while (!rec->finished && !late)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (late);
  g_source_remove (timer);
}

static void
assert_failure_starts (Recorder *rec, const char *prefix)
{
  g_assert_true (rec->finished);
  g_assert_nonnull (rec->failure);
  if (!g_str_has_prefix (rec->failure, prefix))
    g_error ("expected a failure starting\n%s\ngot\n%s", prefix, rec->failure);
}

/* ------------------------------------------------------------------ */

static void
test_capture_and_send (void)
{
  Fixture f;
  g_autoptr (GHashTable) vars = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (vars, "host", "127.0.0.1");
  ScriptRunner *r = runner_new_bare (&f, "expect server /port (?<port>\\d+)/\n"
                                         "send client   connect ${host} ${port}\n"
                                         "write client a\\tb\\x01\\n\n"
                                         "expect client /connected/\n"
                                         "close client\n", vars, 1024);

  /* Lines printed before the step runs are not missed. */
  script_runner_child_started (r, 0);
  script_runner_child_ready (r, 0);
  line (r, 0, "starting");
  line (r, 0, "listening on port 4242");
  script_runner_child_started (r, 1);
  script_runner_child_ready (r, 1);
  script_runner_start (r);
  g_assert_cmpstr (f.rec.sent[1]->str, ==, "  connect 127.0.0.1 4242\na\tb\x01\n");
  g_assert_false (f.rec.finished);

  line (r, 0, "connected"); /* the wrong child */
  g_assert_false (f.rec.finished);
  line (r, 1, "connected to 4242");
  g_assert_true (f.rec.finished);
  g_assert_null (f.rec.failure);
  g_assert_true (f.rec.closed[1]);
  fixture_clear (&f);
}

/* A --ready line, and what came before it, are consumed; lines after it
 * are seen. */
static void
test_ready_consumes (void)
{
  Fixture f;
  const char *text = "expect server /port/ 50ms\n";
  runner_new_bare (&f, text, NULL, 1024);
  script_runner_child_started (f.runner, 0);
  line (f.runner, 0, "port 1");
  script_runner_child_ready (f.runner, 0);
  line (f.runner, 0, "port 2");
  script_runner_start (f.runner);
  g_assert_true (f.rec.finished);
  g_assert_null (f.rec.failure);
  fixture_clear (&f);

  runner_new_bare (&f, text, NULL, 1024);
  script_runner_child_started (f.runner, 0);
  line (f.runner, 0, "port 1");
  script_runner_child_ready (f.runner, 0);
  script_runner_start (f.runner);
  iterate_until_finished (&f.rec, 2000);
  assert_failure_starts (&f.rec, "t.script:1: expect server /port/ 50ms: no matching "
                         "line within 50ms (searched 0 lines)\n"
                         "server printed last ('=' marks lines earlier steps "
                         "consumed, '|' lines still unmatched):\n  = port 1");
  fixture_clear (&f);
}

/* An expect looks only at lines after the previous match on that child,
 * and its report tells which lines were consumed and how many it searched. */
static void
test_since_last_match (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "expect server /ready/\n"
                                    "expect server /ready/ 50ms\n", 1024);
  line (r, 0, "ready");
  line (r, 0, "other");
  script_runner_start (r);
  g_assert_false (f.rec.finished);
  iterate_until_finished (&f.rec, 2000);
  assert_failure_starts (&f.rec, "t.script:2: expect server /ready/ 50ms: "
                         "no matching line within 50ms (searched 1 line)\n"
                         "server printed last ('=' marks lines earlier steps "
                         "consumed, '|' lines still unmatched):\n"
                         "  = ready\n  | other");
  fixture_clear (&f);
}

/* A failure report shows the child's last five lines, oldest first, however
 * many came before them. */
static void
test_last_lines (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "expect server /ready/\n"
                                    "expect server /never/ 50ms\n", 1024);
  line (r, 0, "ready");
  for (int i = 1; i <= 7; i++)
    {
      g_autofree char *text = g_strdup_printf ("line %d", i);
      line (r, 0, text);
    }
  script_runner_start (r);
  iterate_until_finished (&f.rec, 2000);
  assert_failure_starts (&f.rec, "t.script:2: expect server /never/ 50ms: "
                         "no matching line within 50ms (searched 7 lines)\n"
                         "server printed last:\n"
                         "  | line 3\n  | line 4\n  | line 5\n  | line 6\n  | line 7");
  fixture_clear (&f);
}

/* Empty lines are lines. */
static void
test_empty_line (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "expect server /^$/\nexpect server /^x$/\n", 1024);
  script_runner_start (r);
  line (r, 0, "a");
  script_runner_line (r, 0, "", 0);
  line (r, 0, "x");
  g_assert_true (f.rec.finished);
  g_assert_null (f.rec.failure);
  fixture_clear (&f);
}

/* A child that ends abnormally fails the script at once, whatever step
 * runs; one that exits 0 does not. */
static void
test_abnormal_end (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "sleep 10s\n", 1024);
  script_runner_start (r);
  script_runner_child_ended (r, 1, 0, 0);
  g_assert_false (f.rec.finished);
  line (r, 0, "segfaulting");
  script_runner_child_ended (r, 0, 128 + SIGSEGV, SIGSEGV);
  assert_failure_starts (&f.rec, "t.script:1: sleep 10s: server was killed by signal 11 "
                         "(SIGSEGV)\nserver printed last:\n  | segfaulting");
  fixture_clear (&f);

  r = runner_new (&f, "expect client /x/\n", 1024);
  script_runner_start (r);
  script_runner_child_ended (r, 0, 1, 0);
  assert_failure_starts (&f.rec, "t.script:1: expect client /x/: server exited with "
                         "status 1\nserver printed nothing");
  fixture_clear (&f);
}

/* An end the script asked for is not abnormal. */
static void
test_expected_end (void)
{
  static const char *const texts[] = {
    "signal server TERM\nsleep 20ms\n",
    "close server\nsleep 20ms\n",
    "signal server USR1\nwait server signal TERM\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      Fixture f;
      ScriptRunner *r = runner_new (&f, texts[i], 1024);
      script_runner_start (r);
      script_runner_child_ended (r, 0, 128 + SIGTERM, SIGTERM);
      iterate_until_finished (&f.rec, 2000);
      g_assert_null (f.rec.failure);
      fixture_clear (&f);
    }
}

/* After a signal for something else than ending (SIGHUP to reload, SIGCONT),
 * a crash is still a crash; after SIGTERM, an exit of its own is what was
 * asked for. */
static void
test_signal_then_crash (void)
{
  static const struct {
    const char *signal;
    int status, term_signal;
    gboolean fails;
  } cases[] = {
    { "HUP", 128 + SIGSEGV, SIGSEGV, TRUE },
    { "CONT", 128 + SIGSEGV, SIGSEGV, TRUE },
    { "CONT", 1, 0, TRUE },
    { "HUP", 128 + SIGHUP, SIGHUP, FALSE },
    { "TERM", 1, 0, FALSE },
    { "USR1", 0, 0, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Fixture f;
      g_autofree char *text = g_strdup_printf ("signal server %s\nsleep 20ms\n",
                                               cases[i].signal);
      ScriptRunner *r = runner_new (&f, text, 1024);
      script_runner_start (r);
      script_runner_child_ended (r, 0, cases[i].status, cases[i].term_signal);
      if (cases[i].fails)
        assert_failure_starts (&f.rec, "t.script:2: sleep 20ms: server ");
      else
        {
          iterate_until_finished (&f.rec, 2000);
          g_assert_null (f.rec.failure);
        }
      fixture_clear (&f);
    }
}

/* wait: exit 0 by default, or what it says; anything else fails. */
static void
test_wait (void)
{
  static const struct {
    const char *text;
    int status, term_signal;
    const char *failure; /* NULL: passes */
  } cases[] = {
    { "wait server 1s\n", 0, 0, NULL },
    { "wait server exit 3\n", 3, 0, NULL },
    { "wait server signal KILL\n", 128 + SIGKILL, SIGKILL, NULL },
    { "wait server any\n", 128 + SIGSEGV, SIGSEGV, NULL },
    { "wait server\n", 128 + SIGSEGV, SIGSEGV,
      "t.script:1: wait server: server was killed by signal 11 (SIGSEGV); it should "
      "exit with status 0" },
    { "wait server exit 2\n", 0, 0,
      "t.script:1: wait server exit 2: server exited with status 0; it should exit "
      "with status 2" },
    { "wait server signal TERM\n", 1, 0,
      "t.script:1: wait server signal TERM: server exited with status 1; it should "
      "be killed by signal 15 (SIGTERM)" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Fixture f;
      ScriptRunner *r = runner_new (&f, cases[i].text, 1024);
      script_runner_start (r);
      g_assert_false (f.rec.finished);
      script_runner_child_ended (r, 0, cases[i].status, cases[i].term_signal);
      g_assert_true (f.rec.finished);
      if (cases[i].failure == NULL)
        g_assert_null (f.rec.failure);
      else
        assert_failure_starts (&f.rec, cases[i].failure);
      fixture_clear (&f);
    }

  /* A child that ended before the wait step: its end is checked then. */
  Fixture f;
  ScriptRunner *r = runner_new (&f, "sleep 20ms\nwait client\n", 1024);
  script_runner_start (r);
  script_runner_child_ended (r, 1, 0, 0);
  iterate_until_finished (&f.rec, 2000);
  g_assert_null (f.rec.failure);
  fixture_clear (&f);

  r = runner_new (&f, "wait server 50ms\n", 1024);
  script_runner_start (r);
  iterate_until_finished (&f.rec, 2000);
  assert_failure_starts (&f.rec, "t.script:1: wait server 50ms: server still running "
                         "after 50ms");
  fixture_clear (&f);
}

/* expect … unless: a line matching BAD first fails at once. */
static void
test_unless (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "expect client /^ok/ unless /^ERR/\n", 1024);
  script_runner_start (r);
  line (r, 1, "working");
  line (r, 1, "ERR no such key");
  assert_failure_starts (&f.rec, "t.script:1: expect client /^ok/ unless /^ERR/: client "
                         "printed a line matching the unless pattern /^ERR/ first: "
                         "\"ERR no such key\"");
  fixture_clear (&f);

  r = runner_new (&f, "expect client /^ok/ unless /^ERR/\nexpect client /^ERR/\n", 1024);
  line (r, 1, "ok");
  line (r, 1, "ERR later");
  script_runner_start (r);
  g_assert_true (f.rec.finished);
  g_assert_null (f.rec.failure);
  fixture_clear (&f);
}

/* refute passes when its time passed with no matching line; a matching
 * line, new or still unmatched, fails it at once. */
static void
test_refute (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "refute server /panic/ 50ms\nsend server next\n", 1024);
  line (r, 0, "fine");
  script_runner_start (r);
  line (r, 0, "all well");
  iterate_until_finished (&f.rec, 2000);
  g_assert_null (f.rec.failure);
  g_assert_cmpstr (f.rec.sent[0]->str, ==, "next\n");
  fixture_clear (&f);

  r = runner_new (&f, "refute server /panic/ 10s\n", 1024);
  script_runner_start (r);
  line (r, 0, "panic: at the disco");
  assert_failure_starts (&f.rec, "t.script:1: refute server /panic/ 10s: server printed "
                         "a line matching /panic/: \"panic: at the disco\"");
  fixture_clear (&f);

  r = runner_new (&f, "refute server /panic/ 10s\n", 1024);
  line (r, 0, "panic early");
  script_runner_start (r);
  assert_failure_starts (&f.rec, "t.script:1: refute server /panic/ 10s: server printed");
  fixture_clear (&f);
}

/* fail-on: from its step on, a matching line fails the script, whatever
 * step runs; none clears it. */
static void
test_fail_on (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "fail-on server /ERROR/\n"
                                    "expect client /done/\n", 1024);
  line (r, 0, "ERROR before the step");
  script_runner_start (r);
  line (r, 0, "fine");
  g_assert_false (f.rec.finished);
  line (r, 0, "an ERROR now");
  assert_failure_starts (&f.rec, "t.script:1: fail-on server /ERROR/: server printed "
                         "\"an ERROR now\" while line 2 ran (expect client /done/)");
  fixture_clear (&f);

  r = runner_new (&f, "fail-on server /ERROR/\nfail-on server none\n"
                      "expect client /done/\n", 1024);
  script_runner_start (r);
  line (r, 0, "ERROR");
  line (r, 1, "done");
  g_assert_true (f.rec.finished);
  g_assert_null (f.rec.failure);
  fixture_clear (&f);
}

/* repeat nests, with ${i} of the innermost loop, restored after it; its
 * count may be a variable; 0 skips it. */
static void
test_repeat (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "set n 2\n"
                                    "repeat ${n}\n"
                                    "  set outer ${i}\n"
                                    "  repeat 3\n"
                                    "    send server ${outer}.${i}\n"
                                    "  end\n"
                                    "  send server after ${i}\n"
                                    "end\n"
                                    "repeat 0\n"
                                    "  send server never\n"
                                    "end\n", 1024);
  script_runner_start (r);
  g_assert_null (f.rec.failure);
  g_assert_cmpstr (f.rec.sent[0]->str, ==,
                   "0.0\n0.1\n0.2\nafter 0\n1.0\n1.1\n1.2\nafter 1\n");
  fixture_clear (&f);

  r = runner_new (&f, "set n many\nrepeat ${n}\nend\n", 1024);
  script_runner_start (r);
  assert_failure_starts (&f.rec, "t.script:2: repeat ${n}: the count 'many' is not a "
                         "whole number");
  fixture_clear (&f);
}

/* A loop of 100 round trips, with patterns holding ${i}. */
static void
test_repeat_round_trips (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "repeat 100\n"
                                    "  send server ping ${i}\n"
                                    "  expect server /^pong ${i}$/\n"
                                    "end\n", 1024);
  script_runner_start (r);
  for (int i = 0; i < 100; i++)
    {
      g_autofree char *answer = g_strdup_printf ("pong %d", i);
      g_assert_false (f.rec.finished);
      line (r, 0, "pong 1x"); /* a value matches only itself */
      line (r, 0, answer);
    }
  g_assert_true (f.rec.finished);
  g_assert_null (f.rec.failure);
  g_assert_cmpuint (f.rec.sent[0]->len, >, 100 * 7);
  fixture_clear (&f);
}

/* start, signal, restart act through the hooks; start and restart wait
 * until the child is up; after them, an expect sees only what the new
 * process printed. */
static void
test_process_control (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "signal client HUP\n"
                                    "restart server 5s\n"
                                    "expect server /hello/ 50ms\n", 1024);
  line (r, 0, "hello from the old one");
  script_runner_start (r);
  g_assert_cmpstr (f.rec.actions->str, ==, "signal client 1;restart server;");
  g_assert_false (f.rec.finished);
  script_runner_child_ended (r, 0, 128 + SIGTERM, SIGTERM); /* as asked */
  script_runner_child_started (r, 0);
  g_assert_false (f.rec.finished);
  script_runner_child_ready (r, 0);
  iterate_until_finished (&f.rec, 2000);
  assert_failure_starts (&f.rec, "t.script:3: expect server /hello/ 50ms: no matching "
                         "line within 50ms (searched 0 lines)");
  fixture_clear (&f);

  r = runner_new (&f, "wait server\nstart server\nexpect server /up/\n", 1024);
  script_runner_start (r);
  script_runner_child_ended (r, 0, 0, 0);
  g_assert_cmpstr (f.rec.actions->str, ==, "start server;");
  script_runner_child_started (r, 0);
  line (r, 0, "up");
  g_assert_false (f.rec.finished); /* not ready yet */
  script_runner_child_ready (r, 0);
  g_assert_false (f.rec.finished); /* "up" was consumed by the ready line */
  line (r, 0, "up again");
  g_assert_true (f.rec.finished);
  g_assert_null (f.rec.failure);
  fixture_clear (&f);

  /* A restarted child that does not come up in time. */
  r = runner_new (&f, "restart server 50ms\n", 1024);
  script_runner_start (r);
  script_runner_child_ended (r, 0, 128 + SIGTERM, SIGTERM);
  script_runner_child_started (r, 0);
  iterate_until_finished (&f.rec, 2000);
  assert_failure_starts (&f.rec, "t.script:1: restart server 50ms: server not up within 50ms");
  fixture_clear (&f);

  /* Started again, and dead before it was up. */
  r = runner_new (&f, "restart server\n", 1024);
  script_runner_start (r);
  script_runner_child_ended (r, 0, 128 + SIGTERM, SIGTERM);
  script_runner_child_started (r, 0);
  script_runner_child_ended (r, 0, 0, 0);
  assert_failure_starts (&f.rec, "t.script:1: restart server: server exited with status 0 "
                         "before it was up");
  fixture_clear (&f);

  /* Steps on a child that is not there. */
  r = runner_new (&f, "wait server\nsignal server TERM\n", 1024);
  script_runner_start (r);
  script_runner_child_ended (r, 0, 0, 0);
  assert_failure_starts (&f.rec, "t.script:2: signal server TERM: server is not running");
  fixture_clear (&f);

  r = runner_new (&f, "start server\n", 1024);
  script_runner_start (r);
  assert_failure_starts (&f.rec, "t.script:1: start server: server is running already");
  fixture_clear (&f);
}

/* A send to a child whose input queue is full waits until it has room. */
static void
test_send_waits (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "send client one\nsend client two\n", 1024);
  f.rec.full = TRUE;
  script_runner_start (r);
  g_assert_cmpstr (f.rec.sent[1]->str, ==, "");
  g_assert_false (f.rec.finished);
  script_runner_input_room (r, 0); /* the other child */
  script_runner_input_room (r, 1); /* still full */
  g_assert_false (f.rec.finished);
  f.rec.full = FALSE;
  script_runner_input_room (r, 1);
  g_assert_true (f.rec.finished);
  g_assert_null (f.rec.failure);
  g_assert_cmpstr (f.rec.sent[1]->str, ==, "one\ntwo\n");
  fixture_clear (&f);
}

/* The window is bounded: the oldest lines leave it, and the report says
 * how many. */
static void
test_match_max (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "expect server /first/ 50ms\n", 100);
  line (r, 0, "first");
  for (int i = 0; i < 20; i++)
    line (r, 0, "0123456789");
  script_runner_start (r);
  iterate_until_finished (&f.rec, 2000);
  /* Each line weighs its 10 bytes and its newline: 9 fit in 100. */
  assert_failure_starts (&f.rec, "t.script:1: expect server /first/ 50ms: no matching "
                         "line within 50ms (searched 9 lines; 12 earlier lines left "
                         "the window unsearched (--match-max))");
  fixture_clear (&f);
}

/* Lines of the server: format with each number from from to to - 1. */
static void
feed (ScriptRunner *r, const char *format, int from, int to)
{
  for (int i = from; i < to; i++)
    {
      g_autofree char *text = g_strdup_printf (format, i);
      line (r, 0, text);
    }
}

/* Lines fed from within a dispatch of the main loop that has used its
 * slice already: the runner keeps them, and searches them in a later
 * iteration. */
typedef struct {
  ScriptRunner *runner;
  const char *format; /* of each line, with its number */
  int from, to;
  gboolean done;
} LateLines;

static gboolean
feed_late_lines (gpointer data)
{
  LateLines *late = data;
  g_usleep (6 * 1000); /* more than a slice */
  feed (late->runner, late->format, late->from, late->to);
  late->done = TRUE;
  return G_SOURCE_REMOVE;
}

static void
feed_late (ScriptRunner *r, const char *format, int from, int to)
{
  LateLines late = { r, format, from, to, FALSE };
  gboolean gave_up = FALSE;
  guint timer = g_timeout_add (2000, on_give_up, &gave_up);
  g_idle_add (feed_late_lines, &late);
  while (!late.done && !gave_up)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (gave_up);
  g_source_remove (timer);
}

/* A search left halfway, for a later iteration, goes on where it was
 * after the lines ahead of it were moved to make room for new ones. */
static void
test_window_moves (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "expect server /^start$/\n"
                                    "expect server /^(?<n>\\d+) target$/\n"
                                    "send server ${n}\n"
                                    "expect server /^never$/ 50ms\n", 1024 * 1024);
  script_runner_start (r);
  feed (r, "old %d", 0, 3000);
  line (r, 0, "start"); /* consumes the 3000 lines: room to take back */
  feed_late (r, "new %d", 0, 300);
  line (r, 0, "4321 target");
  feed (r, "new %d", 300, 5000); /* the 3000 lines' room is taken back */
  feed (r, "after %d", 0, 3);
  iterate_until_finished (&f.rec, 5000);
  g_assert_cmpstr (f.rec.sent[0]->str, ==, "4321\n");
  assert_failure_starts (&f.rec, "t.script:4: expect server /^never$/ 50ms: no matching "
                         "line within 50ms (searched 4703 lines)\n"
                         "server printed last:\n"
                         "  | new 4998\n  | new 4999\n"
                         "  | after 0\n  | after 1\n  | after 2");
  fixture_clear (&f);
}

/* Lines that leave a full window before a waiting search came to them (it
 * stopped for the next iteration: they came late in a dispatch) are counted
 * as unsearched; those it searched are not. */
static void
test_match_max_unsearched (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "expect server /^never$/ 50ms\n", 100);
  guint searched = 0, unsearched = 0;

  script_runner_start (r);
  feed_late (r, "line %03d", 0, 1000);
  iterate_until_finished (&f.rec, 2000);
  assert_failure_starts (&f.rec, "t.script:1: expect server /^never$/ 50ms: no matching "
                         "line within 50ms (searched ");
  g_assert_cmpint (sscanf (f.rec.failure, "t.script:1: expect server /^never$/ 50ms: no "
                           "matching line within 50ms (searched %u lines; %u earlier",
                           &searched, &unsearched), ==, 2);
  /* Each line weighs its 8 bytes and its newline: the last 11 fit in 100. */
  g_assert_cmpuint (unsearched, >, 0);
  g_assert_cmpuint (searched, >=, 11);
  g_assert_cmpuint (searched + unsearched, ==, 1000);
  g_assert_nonnull (strstr (f.rec.failure, "\n  | line 995\n  | line 996\n  | line 997\n"
                            "  | line 998\n  | line 999"));
  fixture_clear (&f);
}

/* The last lines shown stay while the lines before them, all consumed, are
 * dropped to make room, whichever line comes when room is made. */
static void
test_last_lines_consumed (void)
{
  for (int n = 4; n < 600; n++)
    {
      Fixture f;
      g_autofree char *text = g_strdup_printf ("repeat %d\n"
                                               "  expect server /^tick/\n"
                                               "end\n"
                                               "expect server /^never$/ unless /^tock$/\n", n);
      ScriptRunner *r = runner_new (&f, text, 1024);
      script_runner_start (r);
      feed (r, "tick %d", 0, n);
      line (r, 0, "tock");
      g_autofree char *expected = g_strdup_printf (
        "t.script:4: expect server /^never$/ unless /^tock$/: server printed a line "
        "matching the unless pattern /^tock$/ first: \"tock\"\n"
        "server printed last ('=' marks lines earlier steps consumed, '|' lines still "
        "unmatched):\n  = tick %d\n  = tick %d\n  = tick %d\n  = tick %d\n  | tock",
        n - 4, n - 3, n - 2, n - 1);
      assert_failure_starts (&f.rec, expected);
      fixture_clear (&f);
    }
}

/* A pattern that blows up on a line fails its step, fast. */
static void
test_too_costly (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "expect server /^(a+)+$/\n", 1024);
  g_autofree char *bad = g_strnfill (300, 'a');
  bad[299] = 'b';
  gint64 start = g_get_monotonic_time ();
  script_runner_start (r);
  script_runner_line (r, 0, bad, 300);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 100 * 1000);
  assert_failure_starts (&f.rec, "t.script:1: expect server /^(a+)+$/: matching "
                         "/^(a+)+$/ costs too much on the line \"aaaa");
  fixture_clear (&f);
}

/* A long search, and a long run of steps that never wait, leave the main
 * loop every few milliseconds. */
static void
test_slices (void)
{
  Fixture f;
  ScriptRunner *r = runner_new (&f, "expect server /^never$/ 30s\n", 64 * 1024 * 1024);
  for (int i = 0; i < 300000; i++)
    line (r, 0, "a line that does not match, not at all");
  line (r, 0, "never");
  gint64 start = g_get_monotonic_time ();
  script_runner_start (r);
  gint64 held = g_get_monotonic_time () - start;
  g_assert_false (f.rec.finished);
  g_assert_cmpint (held, <, 50 * 1000);
  iterate_until_finished (&f.rec, 20000);
  g_assert_null (f.rec.failure);
  fixture_clear (&f);

  r = runner_new (&f, "repeat 1000000\n  set x ${i}\nend\n", 1024);
  start = g_get_monotonic_time ();
  script_runner_start (r);
  held = g_get_monotonic_time () - start;
  g_assert_false (f.rec.finished);
  g_assert_cmpint (held, <, 50 * 1000);
  iterate_until_finished (&f.rec, 60000);
  g_assert_null (f.rec.failure);
  fixture_clear (&f);
}

/* A step on a child never started, and an abnormal end before the script
 * started. */
static void
test_not_started (void)
{
  Fixture f;
  const char *text = "expect client /x/\n";
  runner_new_bare (&f, text, NULL, 1024);
  script_runner_child_started (f.runner, 0);
  script_runner_start (f.runner);
  assert_failure_starts (&f.rec, "t.script:1: expect client /x/: client has not been started");
  fixture_clear (&f);

  runner_new_bare (&f, text, NULL, 1024);
  script_runner_child_started (f.runner, 0);
  script_runner_child_ended (f.runner, 0, 2, 0);
  assert_failure_starts (&f.rec, "t.script: server exited with status 2 before the "
                         "script started");
  fixture_clear (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/script-run/capture-and-send", test_capture_and_send);
  g_test_add_func ("/script-run/ready-consumes", test_ready_consumes);
  g_test_add_func ("/script-run/since-last-match", test_since_last_match);
  g_test_add_func ("/script-run/last-lines", test_last_lines);
  g_test_add_func ("/script-run/empty-line", test_empty_line);
  g_test_add_func ("/script-run/abnormal-end", test_abnormal_end);
  g_test_add_func ("/script-run/expected-end", test_expected_end);
  g_test_add_func ("/script-run/signal-then-crash", test_signal_then_crash);
  g_test_add_func ("/script-run/wait", test_wait);
  g_test_add_func ("/script-run/unless", test_unless);
  g_test_add_func ("/script-run/refute", test_refute);
  g_test_add_func ("/script-run/fail-on", test_fail_on);
  g_test_add_func ("/script-run/repeat", test_repeat);
  g_test_add_func ("/script-run/repeat-round-trips", test_repeat_round_trips);
  g_test_add_func ("/script-run/process-control", test_process_control);
  g_test_add_func ("/script-run/send-waits", test_send_waits);
  g_test_add_func ("/script-run/match-max", test_match_max);
  g_test_add_func ("/script-run/match-max-unsearched", test_match_max_unsearched);
  g_test_add_func ("/script-run/window-moves", test_window_moves);
  g_test_add_func ("/script-run/last-lines-consumed", test_last_lines_consumed);
  g_test_add_func ("/script-run/too-costly", test_too_costly);
  g_test_add_func ("/script-run/slices", test_slices);
  g_test_add_func ("/script-run/not-started", test_not_started);
  return g_test_run ();
}
