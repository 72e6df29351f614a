/* Unit tests of pipe-harness's script language: the parser accepts every
 * step and rejects every malformed line by its number; the runner, fed
 * lines by hand, sends, expects, captures and fails as documented. */
#include <string.h>

#include "script.h"

static const char *const names[] = { "server", "client", NULL };

static Script *
parse (const char *text, GError **error)
{
  return script_parse ("t.script", text, strlen (text), names, error);
}

static void
test_parse_steps (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Script) s = parse ("# comment\n"
                                "\n"
                                "expect server /port (?<port>\\d+)/ 2s\r\n"
                                "  send client connect ${port}  \n"
                                "sleep 250ms\n"
                                "close client\n"
                                "wait client 1.5s\n"
                                "wait server",
                                &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s->steps->len, ==, 6);

  ScriptStep *expect = g_ptr_array_index (s->steps, 0);
  g_assert_cmpint (expect->kind, ==, STEP_EXPECT);
  g_assert_cmpuint (expect->line_no, ==, 3);
  g_assert_cmpuint (expect->child, ==, 0);
  g_assert_cmpint (expect->timeout_us, ==, 2 * G_USEC_PER_SEC);
  g_assert_cmpstr (expect->groups[0], ==, "port");
  g_assert_null (expect->groups[1]);

  ScriptStep *send = g_ptr_array_index (s->steps, 1);
  g_assert_cmpint (send->kind, ==, STEP_SEND);
  g_assert_cmpuint (send->child, ==, 1);
  g_assert_cmpstr (send->text, ==, "connect ${port}  ");

  ScriptStep *sleep = g_ptr_array_index (s->steps, 2);
  g_assert_cmpint (sleep->timeout_us, ==, 250000);
  ScriptStep *close = g_ptr_array_index (s->steps, 3);
  g_assert_cmpint (close->kind, ==, STEP_CLOSE);
  ScriptStep *wait = g_ptr_array_index (s->steps, 4);
  g_assert_cmpint (wait->timeout_us, ==, 1500000);
  ScriptStep *wait_default = g_ptr_array_index (s->steps, 5);
  g_assert_cmpint (wait_default->timeout_us, ==, SCRIPT_DEFAULT_TIMEOUT_US);
  g_assert_cmpuint (wait_default->line_no, ==, 8);
}

static void
test_parse_errors (void)
{
  static const struct {
    const char *text;
    const char *message;
  } cases[] = {
    { "sned server hi", "t.script:1: unknown step 'sned'" },
    { "\n\nsend nobody hi", "t.script:3: unknown child 'nobody' (the children are server, client)" },
    { "send", "t.script:1: send needs a child name" },
    { "expect server (no slashes)", "t.script:1: expect needs a /REGEX/" },
    { "expect server /abc", "t.script:1: the regex has no closing '/'" },
    { "expect server /a(b/", "t.script:1: bad regex /a(b/" },
    { "expect server /(?<p\xff\xffrt>x)/", "t.script:1: the regex is not UTF-8 text (write such a byte as \\xNN)" },
    { "expect server /a/ 10", "t.script:1: '10' is not a duration" },
    { "expect server /a/ 2s extra", "t.script:1: unexpected 'extra' after the timeout" },
    { "sleep", "t.script:1: sleep needs a duration" },
    { "sleep -1s", "t.script:1: '-1s' is not a duration" },
    { "sleep 1e9s", "t.script:1: '1e9s' is not a duration" },
    { "sleep 90000s", "t.script:1: duration '90000s' is longer than 24 hours" },
    { "close client now", "t.script:1: unexpected 'now' after the child name" },
    { "send client ${nope_not_set}", "t.script:1: variable 'nope_not_set' is set neither" },
    { "send client ${port}\nexpect server /(?<port>\\d+)/", "t.script:1: variable 'port'" },
    { "send client ${unclosed", "t.script:1: '${' without a closing '}'" },
    { "send client ${1x}", "t.script:1: '${1x}' is not a variable name" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (Script) s = parse (cases[i].text, &error);
      g_assert_null (s);
      g_assert_error (error, SCRIPT_ERROR, 0);
      if (!g_str_has_prefix (error->message, cases[i].message))
        g_error ("for '%s' expected an error starting '%s', got '%s'",
                 cases[i].text, cases[i].message, error->message);
    }
}

static void
test_parse_nul_byte (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Script) s = script_parse ("t.script", "send a\0b\n", 9, names, &error);
  g_assert_null (s);
  g_assert_cmpstr (error->message, ==, "t.script:1: the line holds a NUL byte");
}

static void
test_parse_variables (void)
{
  g_autoptr (GError) error = NULL;
  g_setenv ("SCRIPT_TEST_USER", "alice", TRUE);
  g_autoptr (Script) s = parse ("send client login ${SCRIPT_TEST_USER} $${literal}", &error);
  g_assert_no_error (error);
}

static void
test_durations (void)
{
  static const struct {
    const char *text;
    gint64 us;
  } good[] = {
    { "0s", 0 }, { "250ms", 250000 }, { "2s", 2000000 }, { "1.5s", 1500000 },
    { "0.001s", 1000 }, { "86400s", (gint64) 86400 * G_USEC_PER_SEC },
  };
  static const char *const bad[] = { "", "s", "5", "1.s", ".5s", "2 s", "2sec", "1m", "-3ms", "0x10s" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      gint64 us = -1;
      g_autoptr (GError) error = NULL;
      g_assert_true (script_parse_duration (good[i].text, &us, &error));
      g_assert_no_error (error);
      g_assert_cmpint (us, ==, good[i].us);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      gint64 us;
      g_autoptr (GError) error = NULL;
      g_assert_false (script_parse_duration (bad[i], &us, &error));
      g_assert_nonnull (error);
    }
}

/* ------------------------------------------------------------------ */
/* The runner, with hooks that record what it does */

typedef struct {
  GString *sent[2];
  gboolean closed[2];
  gboolean finished;
  char *failure;
} Recorder;

static gboolean
record_send (gpointer data, guint child, const char *text, gsize len, GError **error)
{
  Recorder *rec = data;
  (void) error;
  g_string_append_len (rec->sent[child], text, len);
  return TRUE;
}

static void
record_close (gpointer data, guint child)
{
  ((Recorder *) data)->closed[child] = TRUE;
}

static void
record_finished (gpointer data, const char *failure)
{
  Recorder *rec = data;
  rec->finished = TRUE;
  rec->failure = g_strdup (failure);
}

static const ScriptHooks recorder_hooks = { record_send, record_close, record_finished };

static void
recorder_init (Recorder *rec)
{
  *rec = (Recorder) { .sent = { g_string_new (NULL), g_string_new (NULL) } };
}

static void
recorder_clear (Recorder *rec)
{
  g_string_free (rec->sent[0], TRUE);
  g_string_free (rec->sent[1], TRUE);
  g_free (rec->failure);
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

static void
iterate_until_finished (Recorder *rec, guint timeout_ms)
{
  gboolean late = FALSE;
  guint timer = g_timeout_add (timeout_ms, on_give_up, &late);
  while (!rec->finished && !late)
    g_main_context_iteration (NULL, TRUE);
  if (!late)
    g_source_remove (timer);
}

static void
test_runner_capture_and_send (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Script) s = parse ("expect server /port (?<port>\\d+)/\n"
                                "send client connect ${port}\n"
                                "expect client /connected/\n"
                                "close client\n",
                                &error);
  Recorder rec;
  recorder_init (&rec);
  g_autoptr (ScriptRunner) r = script_runner_new (s, names, &recorder_hooks, &rec);

  /* Lines printed before the step runs are not missed. */
  line (r, 0, "starting");
  line (r, 0, "listening on port 4242");
  script_runner_start (r);
  g_assert_cmpstr (rec.sent[1]->str, ==, "connect 4242\n");
  g_assert_false (rec.finished);

  line (r, 0, "connected"); /* the wrong child */
  g_assert_false (rec.finished);
  line (r, 1, "connected to 4242");
  g_assert_true (rec.finished);
  g_assert_null (rec.failure);
  g_assert_true (rec.closed[1]);
  recorder_clear (&rec);
}

/* An expect looks only at lines after the previous match on that child. */
static void
test_runner_since_last_match (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Script) s = parse ("expect server /ready/\n"
                                "expect server /ready/ 50ms\n", &error);
  Recorder rec;
  recorder_init (&rec);
  g_autoptr (ScriptRunner) r = script_runner_new (s, names, &recorder_hooks, &rec);

  line (r, 0, "ready");
  line (r, 0, "other");
  script_runner_start (r);
  g_assert_false (rec.finished);
  iterate_until_finished (&rec, 2000);
  g_assert_true (rec.finished);
  g_assert_nonnull (rec.failure);
  g_assert_true (g_str_has_prefix (rec.failure,
                                   "t.script:2: expect server /ready/ 50ms: "
                                   "no matching line within 50ms\n"
                                   "server printed last:\n  | ready\n  | other"));
  recorder_clear (&rec);
}

static void
test_runner_child_gone (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Script) s = parse ("wait client\nexpect server /never/\n", &error);
  Recorder rec;
  recorder_init (&rec);
  g_autoptr (ScriptRunner) r = script_runner_new (s, names, &recorder_hooks, &rec);

  script_runner_start (r);
  line (r, 1, "bye \x01\xff");
  script_runner_child_gone (r, 1, "exited with status 0");
  g_assert_false (rec.finished);
  script_runner_child_gone (r, 0, "exited with status 1");
  g_assert_true (rec.finished);
  g_assert_cmpstr (rec.failure, ==,
                   "t.script:2: expect server /never/: server exited with "
                   "status 1 without printing a matching line\n"
                   "server printed nothing");
  recorder_clear (&rec);
}

static void
test_runner_sleep (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Script) s = parse ("sleep 30ms\nsend server after\n", &error);
  Recorder rec;
  recorder_init (&rec);
  g_autoptr (ScriptRunner) r = script_runner_new (s, names, &recorder_hooks, &rec);
  gint64 start = g_get_monotonic_time ();

  script_runner_start (r);
  g_assert_cmpstr (rec.sent[0]->str, ==, "");
  iterate_until_finished (&rec, 2000);
  g_assert_null (rec.failure);
  g_assert_cmpstr (rec.sent[0]->str, ==, "after\n");
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 30000);
  recorder_clear (&rec);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/script/parse/steps", test_parse_steps);
  g_test_add_func ("/script/parse/errors", test_parse_errors);
  g_test_add_func ("/script/parse/nul-byte", test_parse_nul_byte);
  g_test_add_func ("/script/parse/variables", test_parse_variables);
  g_test_add_func ("/script/parse/durations", test_durations);
  g_test_add_func ("/script/run/capture-and-send", test_runner_capture_and_send);
  g_test_add_func ("/script/run/since-last-match", test_runner_since_last_match);
  g_test_add_func ("/script/run/child-gone", test_runner_child_gone);
  g_test_add_func ("/script/run/sleep", test_runner_sleep);
  return g_test_run ();
}
