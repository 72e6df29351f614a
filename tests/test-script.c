/* Unit tests of pipe-harness's script language: the parser reads every
 * step into its fields and rejects every malformed line by its number, with
 * a message that says what is allowed; durations, signals and ${var}
 * expansion work as documented.  (The runner: test-script-run.c.) */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>

#include "script.h"

static const char *const names[] = { "server", "client", NULL };

static Script *
parse_with (const char *text, const char *const *vars, GError **error)
{
  return script_parse ("t.script", text, strlen (text), names, vars, error);
}

static Script *
parse (const char *text, GError **error)
{
  return parse_with (text, NULL, error);
}

static Script *
parse_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  Script *s = parse (text, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  return s;
}

static ScriptStep *
step_at (Script *s, guint i)
{
  g_assert_cmpuint (i, <, s->steps->len);
  return g_ptr_array_index (s->steps, i);
}

/* The error of parsing text, which must fail. */
static char *
parse_error (const char *text, const char *const *vars)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Script) s = parse_with (text, vars, &error);
  if (s != NULL)
    g_error ("'%s' parsed, it should not", text);
  g_assert_error (error, SCRIPT_ERROR, 0);
  return g_strdup (error->message);
}

static void
test_parse_steps (void)
{
  g_autoptr (Script) s = parse_ok ("# comment\n"
                                   "\n"
                                   "   # indented comment\n"
                                   "expect server /port (?<port>\\d+)/ 2s\r\n"
                                   "  send client connect ${port}  \n"
                                   "write server a\\tb\\n\n"
                                   "sleep 250ms\n"
                                   "close client\n"
                                   "start client\n"
                                   "signal server USR1\n"
                                   "restart client 3s\n"
                                   "refute server /error/ 1.5\n"
                                   "fail-on client /panic/\n"
                                   "fail-on client none\n"
                                   "set user alice ${port}\n"
                                   "repeat 3\n"
                                   "end\n"
                                   "wait client 1.5s\n"
                                   "wait server");
  g_assert_cmpstr (s->path, ==, "t.script");
  g_assert_cmpuint (s->steps->len, ==, 16);

  ScriptStep *expect = step_at (s, 0);
  g_assert_cmpint (expect->kind, ==, STEP_EXPECT);
  g_assert_cmpuint (expect->line_no, ==, 4);
  g_assert_cmpstr (expect->source, ==, "expect server /port (?<port>\\d+)/ 2s");
  g_assert_cmpuint (expect->child, ==, 0);
  g_assert_cmpint (expect->timeout_us, ==, 2 * G_USEC_PER_SEC);
  g_assert_cmpstr (expect->regex.source, ==, "port (?<port>\\d+)");
  g_assert_nonnull (expect->regex.pattern);
  g_assert_cmpstr (pattern_group_names (expect->regex.pattern)[0], ==, "port");
  g_assert_null (expect->unless.source);
  g_assert_null (expect->unless.pattern);

  ScriptStep *send = step_at (s, 1);
  g_assert_cmpint (send->kind, ==, STEP_SEND);
  g_assert_cmpuint (send->line_no, ==, 5);
  g_assert_cmpstr (send->source, ==, "send client connect ${port}  ");
  g_assert_cmpuint (send->child, ==, 1);
  g_assert_cmpstr (send->text, ==, "connect ${port}  ");

  ScriptStep *write = step_at (s, 2);
  g_assert_cmpint (write->kind, ==, STEP_WRITE);
  g_assert_cmpuint (write->child, ==, 0);
  g_assert_cmpstr (write->text, ==, "a\\tb\\n");

  ScriptStep *sleep = step_at (s, 3);
  g_assert_cmpint (sleep->kind, ==, STEP_SLEEP);
  g_assert_cmpint (sleep->timeout_us, ==, 250000);

  ScriptStep *close = step_at (s, 4);
  g_assert_cmpint (close->kind, ==, STEP_CLOSE);
  g_assert_cmpuint (close->child, ==, 1);

  ScriptStep *start = step_at (s, 5);
  g_assert_cmpint (start->kind, ==, STEP_START);
  g_assert_cmpuint (start->child, ==, 1);

  ScriptStep *signal = step_at (s, 6);
  g_assert_cmpint (signal->kind, ==, STEP_SIGNAL);
  g_assert_cmpuint (signal->child, ==, 0);
  g_assert_cmpint (signal->signum, ==, SIGUSR1);

  ScriptStep *restart = step_at (s, 7);
  g_assert_cmpint (restart->kind, ==, STEP_RESTART);
  g_assert_cmpuint (restart->child, ==, 1);
  g_assert_cmpint (restart->timeout_us, ==, 3 * G_USEC_PER_SEC);

  ScriptStep *refute = step_at (s, 8);
  g_assert_cmpint (refute->kind, ==, STEP_REFUTE);
  g_assert_cmpstr (refute->regex.source, ==, "error");
  g_assert_nonnull (refute->regex.pattern);
  g_assert_cmpint (refute->timeout_us, ==, 1500000);

  ScriptStep *fail_on = step_at (s, 9);
  g_assert_cmpint (fail_on->kind, ==, STEP_FAIL_ON);
  g_assert_cmpuint (fail_on->child, ==, 1);
  g_assert_cmpstr (fail_on->regex.source, ==, "panic");
  g_assert_nonnull (fail_on->regex.pattern);

  ScriptStep *fail_on_none = step_at (s, 10);
  g_assert_cmpint (fail_on_none->kind, ==, STEP_FAIL_ON);
  g_assert_null (fail_on_none->regex.source);
  g_assert_null (fail_on_none->regex.pattern);

  ScriptStep *set = step_at (s, 11);
  g_assert_cmpint (set->kind, ==, STEP_SET);
  g_assert_cmpstr (set->var, ==, "user");
  g_assert_cmpstr (set->text, ==, "alice ${port}");

  ScriptStep *repeat = step_at (s, 12);
  ScriptStep *end = step_at (s, 13);
  g_assert_cmpint (repeat->kind, ==, STEP_REPEAT);
  g_assert_cmpstr (repeat->text, ==, "3");
  g_assert_cmpuint (repeat->jump, ==, 13);
  g_assert_cmpint (end->kind, ==, STEP_END);
  g_assert_cmpuint (end->jump, ==, 12);
  g_assert_cmpuint (end->line_no, ==, 17);

  ScriptStep *wait = step_at (s, 14);
  g_assert_cmpint (wait->kind, ==, STEP_WAIT);
  g_assert_cmpuint (wait->child, ==, 1);
  g_assert_cmpint (wait->timeout_us, ==, 1500000);
  g_assert_cmpint (wait->accept, ==, WAIT_EXIT);
  g_assert_cmpint (wait->wait_value, ==, 0);

  ScriptStep *wait_default = step_at (s, 15);
  g_assert_cmpint (wait_default->timeout_us, ==, SCRIPT_DEFAULT_TIMEOUT_US);
  g_assert_cmpuint (wait_default->line_no, ==, 19);
}

/* send's text is everything after the one blank that follows the name. */
static void
test_parse_send_text (void)
{
  static const struct {
    const char *line;
    const char *text;
  } cases[] = {
    { "send client   indented", "  indented" },
    { "send client\t\ttab", "\ttab" },
    { "send client trailing  \t", "trailing  \t" },
    { "send client", "" },
    { "send client ", "" },
    { "send client  ", " " },
    { "send   client two", "two" },
    { "send client #not a comment", "#not a comment" },
    { "send client a\\nb $${x}", "a\\nb $${x}" },
    { "write client   \\x41", "  \\x41" },
    { "write client", "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (Script) s = parse_ok (cases[i].line);
      g_assert_cmpstr (step_at (s, 0)->text, ==, cases[i].text);
    }
}

static void
test_parse_expect_forms (void)
{
  g_autoptr (Script) s = parse_ok ("expect server /x/ 5\n"
                                   "expect server /a\\/b/\n"
                                   "expect server /ok/ unless /fail(ed)?/\n"
                                   "expect server /ok/ 250ms unless /fail/\n"
                                   "expect server /cost $${x}/\n"
                                   "expect server //\n");
  ScriptStep *bare = step_at (s, 0);
  g_assert_cmpint (bare->timeout_us, ==, 5 * G_USEC_PER_SEC);

  ScriptStep *slash = step_at (s, 1);
  g_assert_cmpstr (slash->regex.source, ==, "a\\/b");
  g_assert_cmpint (pattern_match (slash->regex.pattern, "a/b", 3, NULL), ==, MATCH_FOUND);
  g_assert_cmpint (slash->timeout_us, ==, SCRIPT_DEFAULT_TIMEOUT_US);

  ScriptStep *unless = step_at (s, 2);
  g_assert_cmpint (unless->timeout_us, ==, SCRIPT_DEFAULT_TIMEOUT_US);
  g_assert_cmpstr (unless->unless.source, ==, "fail(ed)?");
  g_assert_nonnull (unless->unless.pattern);

  ScriptStep *both = step_at (s, 3);
  g_assert_cmpint (both->timeout_us, ==, 250000);
  g_assert_cmpstr (both->unless.source, ==, "fail");

  /* $${ is a literal ${: the pattern is compiled now and matches it. */
  ScriptStep *literal = step_at (s, 4);
  g_assert_cmpstr (literal->regex.source, ==, "cost $${x}");
  g_assert_nonnull (literal->regex.pattern);
  g_assert_cmpint (pattern_match (literal->regex.pattern, "cost ${x}", 9, NULL), ==, MATCH_FOUND);

  ScriptStep *empty = step_at (s, 5);
  g_assert_cmpstr (empty->regex.source, ==, "");
  g_assert_cmpint (pattern_match (empty->regex.pattern, "", 0, NULL), ==, MATCH_FOUND);
}

static void
test_parse_wait_forms (void)
{
  g_autoptr (Script) s = parse_ok ("wait server exit 3\n"
                                   "wait server exit 255 2s\n"
                                   "wait server signal TERM\n"
                                   "wait server signal 9 500ms\n"
                                   "wait server any\n"
                                   "wait server any 7\n"
                                   "wait server 7\n");
  static const struct {
    WaitAccept accept;
    int value;
    gint64 timeout_us;
  } expected[] = {
    { WAIT_EXIT, 3, SCRIPT_DEFAULT_TIMEOUT_US },
    { WAIT_EXIT, 255, 2 * G_USEC_PER_SEC },
    { WAIT_SIGNAL, SIGTERM, SCRIPT_DEFAULT_TIMEOUT_US },
    { WAIT_SIGNAL, SIGKILL, 500000 },
    { WAIT_ANY_END, 0, SCRIPT_DEFAULT_TIMEOUT_US },
    { WAIT_ANY_END, 0, 7 * G_USEC_PER_SEC },
    { WAIT_EXIT, 0, 7 * G_USEC_PER_SEC },
  };

  g_assert_cmpuint (s->steps->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      ScriptStep *wait = step_at (s, i);
      g_assert_cmpint (wait->kind, ==, STEP_WAIT);
      g_assert_cmpint (wait->accept, ==, expected[i].accept);
      if (expected[i].accept != WAIT_ANY_END)
        g_assert_cmpint (wait->wait_value, ==, expected[i].value);
      g_assert_cmpint (wait->timeout_us, ==, expected[i].timeout_us);
    }
}

static void
test_parse_restart_default (void)
{
  g_autoptr (Script) s = parse_ok ("restart server\nsignal client sigkill\nsignal client 34");
  g_assert_cmpint (step_at (s, 0)->timeout_us, ==, SCRIPT_DEFAULT_TIMEOUT_US);
  g_assert_cmpint (step_at (s, 1)->signum, ==, SIGKILL);
  g_assert_cmpint (step_at (s, 2)->signum, ==, 34);
}

static void
test_parse_errors (void)
{
  static const struct {
    const char *text;
    const char *message;
  } cases[] = {
    { "sned server hi", "t.script:1: unknown step 'sned' (steps are send, write, expect, refute, fail-on, sleep, close, start, signal, restart, wait, set, repeat, end)" },
    { "\n\nsend nobody hi", "t.script:3: unknown child 'nobody' (the children are server, client)" },
    { "send", "t.script:1: send needs a child name (the children are server, client)" },
    { "close", "t.script:1: close needs a child name" },
    { "expect server (no slashes)", "t.script:1: expect needs a /REGEX/ here" },
    { "expect server", "t.script:1: expect needs a /REGEX/ here" },
    { "expect server /abc", "t.script:1: the regex has no closing '/' (write \\/ for a slash inside it)" },
    { "expect server /abc\\/", "t.script:1: the regex has no closing '/'" },
    { "expect server /a(b/", "t.script:1: bad regex /a(b/: missing closing parenthesis at offset 3" },
    { "expect server /(?<p\xff\xffrt>x)/", "t.script:1: the regex is not UTF-8 text (write such a byte as \\xNN)" },
    { "expect server /abc/i", "t.script:1: unexpected 'i' right after the regex (options go inside it, like /(?i)abc/)" },
    { "expect server /a/ 10x", "t.script:1: '10x' is not a duration (write it like 250ms, 2s or 5)" },
    { "expect server /a/ 2s extra", "t.script:1: unexpected 'extra' after the timeout (expect NAME /RE/ [T] [unless /BAD/])" },
    { "expect server /a/ unless", "t.script:1: unless needs a /REGEX/ here" },
    { "expect server /a/ unless /b/ 2s", "t.script:1: unexpected '2s' after the unless regex" },
    { "expect server /a/ unless /(/", "t.script:1: bad regex /(/" },
    { "refute server /a/", "t.script:1: refute needs a duration after the regex, like 2s: how long no line may match" },
    { "refute server /a/ 1s more", "t.script:1: unexpected 'more' after the duration" },
    { "refute server a 1s", "t.script:1: refute needs a /REGEX/ here" },
    { "fail-on server", "t.script:1: fail-on needs a /REGEX/, or none to clear it" },
    { "fail-on server nothing", "t.script:1: fail-on needs a /REGEX/, or none to clear it" },
    { "fail-on server none now", "t.script:1: unexpected 'now' after none" },
    { "fail-on server /a/ 2s", "t.script:1: unexpected '2s' after the regex" },
    { "sleep", "t.script:1: sleep needs a duration, like 250ms, 2s or 5" },
    { "sleep 1s 2s", "t.script:1: unexpected '2s' after the duration" },
    { "sleep -1s", "t.script:1: '-1s' is not a duration" },
    { "sleep 1e9s", "t.script:1: '1e9s' is not a duration" },
    { "sleep 90000s", "t.script:1: duration '90000s' is longer than 24 hours" },
    { "sleep 86401", "t.script:1: duration '86401' is longer than 24 hours" },
    { "close client now", "t.script:1: unexpected 'now' after the child name" },
    { "start client now", "t.script:1: unexpected 'now' after the child name" },
    { "signal client", "t.script:1: signal needs a signal after the child name, like TERM, INT, KILL, HUP, USR1 or 15" },
    { "signal client TERMINATE", "t.script:1: 'TERMINATE' is not a signal (write TERM, INT, KILL, HUP, USR1, USR2, STOP, CONT… or a number from 1 to 64)" },
    { "signal client 65", "t.script:1: '65' is not a signal" },
    { "signal client 0", "t.script:1: '0' is not a signal" },
    { "signal client TERM KILL", "t.script:1: unexpected 'KILL' after the signal" },
    { "restart client soon", "t.script:1: 'soon' is not a duration" },
    { "restart client 1s 2s", "t.script:1: unexpected '2s' after the timeout" },
    { "wait client exit", "t.script:1: wait client exit needs a status from 0 to 255, not ''" },
    { "wait client exit 256", "t.script:1: wait client exit needs a status from 0 to 255, not '256'" },
    { "wait client exit -1", "t.script:1: wait client exit needs a status from 0 to 255, not '-1'" },
    { "wait client signal", "t.script:1: '' is not a signal" },
    { "wait client signal NOPE", "t.script:1: 'NOPE' is not a signal" },
    { "wait client forever", "t.script:1: unexpected 'forever' after the child name (wait NAME [exit N | signal SIG | any] [T])" },
    { "wait client any 2s x", "t.script:1: unexpected 'x' after the timeout" },
    { "wait client 2s any", "t.script:1: unexpected 'any' after the timeout" },
    { "set", "t.script:1: set needs a variable name and a value, like set user alice" },
    { "set 1x y", "t.script:1: '1x' is not a variable name (a letter or _, then letters, digits, _)" },
    { "set a-b y", "t.script:1: 'a-b' is not a variable name" },
    { "repeat", "t.script:1: repeat needs a count, like repeat 3 or repeat ${n}" },
    { "repeat -1\nend", "t.script:1: '-1' is not a count (a whole number from 0 to 2147483647, or a ${var} that holds one)" },
    { "repeat three\nend", "t.script:1: 'three' is not a count" },
    { "repeat 99999999999\nend", "t.script:1: '99999999999' is not a count" },
    { "repeat 3 times\nend", "t.script:1: unexpected 'times' after the count" },
    { "repeat 2\nend now", "t.script:2: unexpected 'now' after end" },
    { "send client ${nope_not_set}", "t.script:1: variable 'nope_not_set' is not set: nothing before this line defines it (a named group of an expect, a set, an enclosing repeat's ${i}) and the environment does not have it" },
    { "send client ${unclosed", "t.script:1: '${' without a closing '}' (write $${ for a literal ${)" },
    { "send client ${1x}", "t.script:1: '${1x}' is not a variable name (a letter or _, then letters, digits, _)" },
    { "send client ${}", "t.script:1: '${}' is not a variable name" },
    { "write client \\q", "t.script:1: unknown escape '\\q' (the escapes are \\n \\r \\t \\\\ \\xHH)" },
    { "write client \\é", "t.script:1: unknown escape '\\é'" },
    { "write client \\x4", "t.script:1: '\\x' needs two hex digits, like \\x1b" },
    { "write client \\xg0", "t.script:1: '\\x' needs two hex digits" },
    { "write client ab\\", "t.script:1: a '\\' ends the text (write \\\\ for a backslash)" },
    { "write client ${nope_not_set}", "t.script:1: variable 'nope_not_set' is not set" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *message = parse_error (cases[i].text, NULL);
      if (!g_str_has_prefix (message, cases[i].message))
        g_error ("for '%s' expected an error starting '%s', got '%s'",
                 cases[i].text, cases[i].message, message);
    }
}

/* The line named is the line at fault, comments and blank lines counted. */
static void
test_parse_error_lines (void)
{
  g_autofree char *late = parse_error ("# one\n\nsend client hi\r\n  \n\tsleep 1s\nsleep x\n", NULL);
  g_assert_cmpstr (late, ==, "t.script:6: 'x' is not a duration (write it like 250ms, 2s or 5)");
  g_autofree char *last = parse_error ("sleep 1s\nsleep 2s\nbogus", NULL);
  g_assert_true (g_str_has_prefix (last, "t.script:3: unknown step 'bogus'"));
}

static void
test_parse_nul_byte (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (Script) s = script_parse ("t.script", "sleep 1s\nsend a\0b\n", 18,
                                       names, NULL, &error);
  g_assert_null (s);
  g_assert_cmpstr (error->message, ==, "t.script:2: the line holds a NUL byte");
}

static void
test_parse_repeat_jumps (void)
{
  static const char *const vars[] = { "n", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (Script) s = parse_with ("repeat 2\n"
                                     "  send client ${i}\n"
                                     "  repeat 3\n"
                                     "    repeat 0\n"
                                     "    end\n"
                                     "    send client ${i}\n"
                                     "  end\n"
                                     "end\n"
                                     "repeat ${n}\n"
                                     "end\n",
                                     vars, &error);
  g_assert_no_error (error);
  static const struct {
    StepKind kind;
    guint jump;
  } expected[] = {
    { STEP_REPEAT, 7 }, { STEP_SEND, 0 }, { STEP_REPEAT, 6 }, { STEP_REPEAT, 4 },
    { STEP_END, 3 },    { STEP_SEND, 0 }, { STEP_END, 2 },    { STEP_END, 0 },
    { STEP_REPEAT, 9 }, { STEP_END, 8 },
  };

  g_assert_cmpuint (s->steps->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      ScriptStep *step = step_at (s, i);
      g_assert_cmpint (step->kind, ==, expected[i].kind);
      if (step->kind == STEP_REPEAT || step->kind == STEP_END)
        g_assert_cmpuint (step->jump, ==, expected[i].jump);
    }
  g_assert_cmpstr (step_at (s, 8)->text, ==, "${n}");
  g_assert_cmpstr (step_at (s, 3)->text, ==, "0");
}

static void
test_parse_repeat_unbalanced (void)
{
  static const struct {
    const char *text;
    const char *message;
  } cases[] = {
    { "end", "t.script:1: end without a repeat" },
    { "repeat 2\nend\nend", "t.script:3: end without a repeat" },
    { "sleep 1s\nrepeat 2\n", "t.script:2: repeat without an end" },
    { "repeat 2\n  repeat 3\nend\n# done\n", "t.script:1: repeat without an end" },
    { "repeat 2\nrepeat 3\n", "t.script:2: repeat without an end" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *message = parse_error (cases[i].text, NULL);
      g_assert_cmpstr (message, ==, cases[i].message);
    }
}

/* Where each variable comes from, and where it is not defined yet. */
static void
test_parse_variables (void)
{
  static const char *const ready_vars[] = { "ready_port", NULL };
  g_setenv ("SCRIPT_TEST_USER", "alice", TRUE);
  g_unsetenv ("SCRIPT_TEST_UNSET");

  static const char *const good[] = {
    "send client login ${SCRIPT_TEST_USER} $${literal}",
    "expect server /(?<port>\\d+)/\nsend client ${port}",
    "expect server /(?<a>x)|(?<b>y)/\nsend client ${a} ${b}",
    "set x 1\nsend client ${x}\nset y ${x}${x}",
    "repeat 2\n  send client ${i}\n  expect server /${i}/\nend",
    "repeat 2\n  repeat ${i}\n    send client ${i}\n  end\n  send client ${i}\nend",
    "repeat 2\n  set kept ${i}\nend\nsend client ${kept}",
    "repeat 2\n  expect server /(?<found>x)/\nend\nsend client ${found}",
    "set n 3\nrepeat ${n}\nend",
    "set i 7\nrepeat 2\nend\nsend client ${i}",
    "send client ${ready_port}",
    "expect server /(?<next>${ready_port})/\nsend client ${next}",
    "expect server /a/ unless /${ready_port}/",
    "refute server /${ready_port}/ 1s",
    "fail-on server /${SCRIPT_TEST_USER}/",
    "write client ${ready_port}\\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (Script) s = parse_with (good[i], ready_vars, &error);
      if (error != NULL)
        g_error ("'%s' did not parse: %s", good[i], error->message);
    }

  static const struct {
    const char *text;
    const char *message;
  } bad[] = {
    { "send client ${SCRIPT_TEST_UNSET}", "t.script:1: variable 'SCRIPT_TEST_UNSET' is not set" },
    { "send client ${port}\nexpect server /(?<port>\\d+)/", "t.script:1: variable 'port' is not set" },
    { "expect server /(?<port>\\d+)${port}/", "t.script:1: variable 'port' is not set" },
    { "expect server /(?<port>\\d+)/ unless /${port}/", "t.script:1: variable 'port' is not set" },
    { "expect server /(?<port>\\d+)/ unless /(?<bad>x)/\nsend client ${bad}", "t.script:2: variable 'bad' is not set" },
    { "refute server /(?<r>x)/ 1s\nsend client ${r}", "t.script:2: variable 'r' is not set" },
    { "fail-on server /(?<f>x)/\nsend client ${f}", "t.script:2: variable 'f' is not set" },
    { "set x ${x}", "t.script:1: variable 'x' is not set" },
    { "send client ${i}", "t.script:1: variable 'i' is not set" },
    { "repeat 2\nend\nsend client ${i}", "t.script:3: variable 'i' is not set" },
    { "repeat ${i}\nend", "t.script:1: variable 'i' is not set" },
    { "repeat 2\n  repeat 2\n  end\n  send client ${i}\nend\nsend client ${i}", "t.script:6: variable 'i' is not set" },
    { "repeat ${count}\nend", "t.script:1: variable 'count' is not set" },
    { "write client ${w}", "t.script:1: variable 'w' is not set" },
    { "send client ${other_port}", "t.script:1: variable 'other_port' is not set" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *message = parse_error (bad[i].text, ready_vars);
      if (!g_str_has_prefix (message, bad[i].message))
        g_error ("for '%s' expected an error starting '%s', got '%s'",
                 bad[i].text, bad[i].message, message);
    }
}

/* A pattern with ${var} is compiled when it runs; its named groups are
 * variables all the same. */
static void
test_parse_pattern_with_variables (void)
{
  static const char *const vars[] = { "host", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (Script) s = parse_with ("expect server /${host}:(?<port>\\d+)/ 3s unless /${host} down/\n"
                                     "send client ${port}\n"
                                     "expect server /${host}+/\n",
                                     vars, &error);
  g_assert_no_error (error);
  ScriptStep *expect = step_at (s, 0);
  g_assert_cmpstr (expect->regex.source, ==, "${host}:(?<port>\\d+)");
  g_assert_null (expect->regex.pattern);
  g_assert_cmpstr (expect->unless.source, ==, "${host} down");
  g_assert_null (expect->unless.pattern);
  g_assert_cmpint (expect->timeout_us, ==, 3 * G_USEC_PER_SEC);
  g_assert_null (step_at (s, 2)->regex.pattern);
}

static void
test_parse_vars_argument (void)
{
  static const char *const vars[] = { "a", "b", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (Script) s = parse_with ("send client ${a}${b}", vars, &error);
  g_assert_no_error (error);
  g_autofree char *message = parse_error ("send client ${a}${b}", NULL);
  g_assert_true (g_str_has_prefix (message, "t.script:1: variable 'a' is not set"));
}

static void
test_load (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("test-script-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *path = g_build_filename (dir, "good.script", NULL);
  g_assert_true (g_file_set_contents (path, "sleep 1\nsend client hi\n", -1, &error));

  g_autoptr (Script) s = script_load (path, names, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s->path, ==, path);
  g_assert_cmpuint (s->steps->len, ==, 2);

  g_assert_true (g_file_set_contents (path, "sleep 1\nsleep\n", -1, &error));
  g_autoptr (Script) bad = script_load (path, names, NULL, &error);
  g_assert_null (bad);
  g_autofree char *prefix = g_strdup_printf ("%s:2: sleep needs a duration", path);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_clear_error (&error);

  g_assert_cmpint (g_unlink (path), ==, 0);
  g_autoptr (Script) missing = script_load (path, names, NULL, &error);
  g_assert_null (missing);
  g_assert_error (error, SCRIPT_ERROR, 0);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_cmpint (g_rmdir (dir), ==, 0);
}

static void
test_durations (void)
{
  static const struct {
    const char *text;
    gint64 us;
  } good[] = {
    { "0s", 0 }, { "0", 0 }, { "250ms", 250000 }, { "2s", 2000000 },
    { "1.5s", 1500000 }, { "1.5", 1500000 }, { "5", 5000000 },
    { "0.001s", 1000 }, { "0.5ms", 500 }, { "86400s", (gint64) 86400 * G_USEC_PER_SEC },
    { "86400", (gint64) 86400 * G_USEC_PER_SEC },
    { "86400000ms", (gint64) 86400 * G_USEC_PER_SEC },
  };
  static const char *const bad[] = {
    "", "s", "ms", "1.s", ".5s", "1.", ".5", "2 s", " 2s", "2s ", "2sec", "1m",
    "-3ms", "+3", "0x10s", "1e3", "5S", "86400.1", "86401", "86400001ms",
    "99999999999999999999999999999999999999999",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      gint64 us = -1;
      g_autoptr (GError) error = NULL;
      if (!script_parse_duration (good[i].text, &us, &error))
        g_error ("'%s': %s", good[i].text, error->message);
      g_assert_cmpint (us, ==, good[i].us);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      gint64 us = 42;
      g_autoptr (GError) error = NULL;
      if (script_parse_duration (bad[i], &us, &error))
        g_error ("'%s' was taken as a duration", bad[i]);
      g_assert_error (error, SCRIPT_ERROR, 0);
      g_assert_cmpint (us, ==, 42);
    }
}

static void
test_signals (void)
{
  static const struct {
    const char *text;
    int signum;
  } cases[] = {
    { "TERM", SIGTERM }, { "SIGTERM", SIGTERM }, { "term", SIGTERM },
    { "sigterm", SIGTERM }, { "SigTerm", SIGTERM }, { "15", SIGTERM },
    { "KILL", SIGKILL }, { "INT", SIGINT }, { "HUP", SIGHUP },
    { "USR1", SIGUSR1 }, { "usr2", SIGUSR2 }, { "STOP", SIGSTOP },
    { "CONT", SIGCONT }, { "SIGWINCH", SIGWINCH }, { "1", 1 }, { "34", 34 },
    { "64", 64 }, { "065", 0 }, { "0", 0 }, { "65", 0 }, { "-9", 0 },
    { "+9", 0 }, { "9x", 0 }, { "", 0 }, { "SIG", 0 }, { "SIGSIGTERM", 0 },
    { "TERMINATE", 0 }, { " TERM", 0 }, { "RTMIN", 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    if (script_parse_signal (cases[i].text) != cases[i].signum)
      g_error ("'%s' gave %d, not %d", cases[i].text,
               script_parse_signal (cases[i].text), cases[i].signum);

  g_assert_cmpstr (script_signal_name (SIGTERM), ==, "TERM");
  g_assert_cmpstr (script_signal_name (SIGKILL), ==, "KILL");
  g_assert_cmpstr (script_signal_name (SIGUSR1), ==, "USR1");
  g_assert_cmpstr (script_signal_name (34), ==, "34");
  /* Static: the same string each time. */
  g_assert_true (script_signal_name (34) == script_signal_name (34));
  for (int signum = 1; signum <= 64; signum++)
    g_assert_cmpint (script_parse_signal (script_signal_name (signum)), ==, signum);
}

static const char *
lookup_table (const char *name, gpointer data)
{
  return g_hash_table_lookup (data, name);
}

static GHashTable *
values_new (void)
{
  GHashTable *values = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (values, "user", "alice");
  g_hash_table_insert (values, "nested", "${user}");
  g_hash_table_insert (values, "escape", "\\n");
  g_hash_table_insert (values, "empty", "");
  return values;
}

static char *
expand (const char *text, ScriptExpandMode mode, GError **error)
{
  g_autoptr (GHashTable) values = values_new ();
  g_autoptr (GString) out = g_string_new ("<");
  if (!script_expand (text, mode, lookup_table, values, out, error))
    return NULL;
  return g_strndup (out->str, out->len);
}

static void
test_expand (void)
{
  static const struct {
    const char *text;
    ScriptExpandMode mode;
    const char *out;
  } good[] = {
    { "hi ${user}!", EXPAND_PLAIN, "<hi alice!" },
    { "${user}${user}", EXPAND_PLAIN, "<alicealice" },
    { "[${empty}]", EXPAND_PLAIN, "<[]" },
    /* One pass: a value is never expanded or unescaped again. */
    { "${nested}", EXPAND_PLAIN, "<${user}" },
    { "${escape}", EXPAND_ESCAPES, "<\\n" },
    { "$${user} $$ $ {x} $", EXPAND_PLAIN, "<${user} $$ $ {x} $" },
    { "$$${user}", EXPAND_PLAIN, "<$${user}" },
    { "a\\n\\r\\t\\\\b", EXPAND_PLAIN, "<a\\n\\r\\t\\\\b" },
    { "a\\n\\r\\t\\\\b", EXPAND_ESCAPES, "<a\n\r\t\\b" },
    { "\\x41\\x7e\\x1B\\xff", EXPAND_ESCAPES, "<A~\x1b\xff" },
    { "\\\\${user}", EXPAND_ESCAPES, "<\\alice" },
    { "$${x}", EXPAND_ESCAPES, "<${x}" },
    { "$${x}", EXPAND_REGEX, "<\\$\\{x}" },
    { "^${user}\\d", EXPAND_REGEX, "<^alice\\d" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *out = expand (good[i].text, good[i].mode, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (out, ==, good[i].out);
    }

  /* \x00 is a NUL byte in the text. */
  g_autoptr (GHashTable) values = values_new ();
  g_autoptr (GString) out = g_string_new (NULL);
  g_assert_true (script_expand ("a\\x00b", EXPAND_ESCAPES, lookup_table, values, out, NULL));
  g_assert_cmpmem (out->str, out->len, "a\0b", 3);

  static const struct {
    const char *text;
    ScriptExpandMode mode;
    const char *message;
  } bad[] = {
    { "${nobody}", EXPAND_PLAIN, "variable 'nobody' is not set" },
    { "${user", EXPAND_PLAIN, "'${' without a closing '}' (write $${ for a literal ${)" },
    { "${us er}", EXPAND_PLAIN, "'${us er}' is not a variable name (a letter or _, then letters, digits, _)" },
    { "${9}", EXPAND_REGEX, "'${9}' is not a variable name (a letter or _, then letters, digits, _)" },
    { "\\a", EXPAND_ESCAPES, "unknown escape '\\a' (the escapes are \\n \\r \\t \\\\ \\xHH)" },
    { "\\0", EXPAND_ESCAPES, "unknown escape '\\0' (the escapes are \\n \\r \\t \\\\ \\xHH)" },
    { "\\x4", EXPAND_ESCAPES, "'\\x' needs two hex digits, like \\x1b" },
    { "\\x", EXPAND_ESCAPES, "'\\x' needs two hex digits, like \\x1b" },
    { "\\", EXPAND_ESCAPES, "a '\\' ends the text (write \\\\ for a backslash)" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *result = expand (bad[i].text, bad[i].mode, &error);
      g_assert_null (result);
      g_assert_error (error, SCRIPT_ERROR, 0);
      g_assert_cmpstr (error->message, ==, bad[i].message);
    }
}

/* In a pattern, a value matches itself and nothing else, whatever regex
 * syntax it holds. */
static void
test_expand_regex_quoting (void)
{
  static const char *const values[] = {
    "a.b*c+d?", "(x|y)", "[abc]{2}", "^$", "back\\slash", "\\E\\Q\\E",
    "/slash/", "tab\there", "#hash (?x) space", "{1,3}", "café.", "-]",
  };
  static const char *const wrappers[] = { "^${v}$", "(?x) ^ ${v} $", "^[_]?${v}$" };

  for (guint w = 0; w < G_N_ELEMENTS (wrappers); w++)
    for (guint i = 0; i < G_N_ELEMENTS (values); i++)
      {
        g_autoptr (GHashTable) table = g_hash_table_new (g_str_hash, g_str_equal);
        g_hash_table_insert (table, "v", (gpointer) values[i]);
        g_autoptr (GString) source = g_string_new (NULL);
        g_autoptr (GError) error = NULL;
        g_assert_true (script_expand (wrappers[w], EXPAND_REGEX, lookup_table, table,
                                      source, &error));
        g_autoptr (Pattern) p = pattern_new (source->str, &error);
        if (p == NULL)
          g_error ("%s with '%s' gave /%s/: %s", wrappers[w], values[i],
                   source->str, error->message);
        const char *v = values[i];
        g_assert_cmpint (pattern_match (p, v, strlen (v), NULL), ==, MATCH_FOUND);

        /* Every other line of the same length differs by one character. */
        g_autofree char *other = g_strdup (v);
        for (gsize k = 0; other[k] != '\0'; k++)
          {
            char saved = other[k];
            if ((guchar) saved >= 0x80)
              continue;
            other[k] = saved == 'Z' ? 'Y' : 'Z';
            if (pattern_match (p, other, strlen (other), NULL) != MATCH_NONE)
              g_error ("/%s/ matched '%s'", source->str, other);
            other[k] = saved;
          }
        g_autofree char *longer = g_strconcat (v, v, NULL);
        g_assert_cmpint (pattern_match (p, longer, strlen (longer), NULL), ==, MATCH_NONE);
      }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/script/parse/steps", test_parse_steps);
  g_test_add_func ("/script/parse/send-text", test_parse_send_text);
  g_test_add_func ("/script/parse/expect-forms", test_parse_expect_forms);
  g_test_add_func ("/script/parse/wait-forms", test_parse_wait_forms);
  g_test_add_func ("/script/parse/restart-and-signal", test_parse_restart_default);
  g_test_add_func ("/script/parse/errors", test_parse_errors);
  g_test_add_func ("/script/parse/error-lines", test_parse_error_lines);
  g_test_add_func ("/script/parse/nul-byte", test_parse_nul_byte);
  g_test_add_func ("/script/parse/repeat-jumps", test_parse_repeat_jumps);
  g_test_add_func ("/script/parse/repeat-unbalanced", test_parse_repeat_unbalanced);
  g_test_add_func ("/script/parse/variables", test_parse_variables);
  g_test_add_func ("/script/parse/pattern-with-variables", test_parse_pattern_with_variables);
  g_test_add_func ("/script/parse/vars-argument", test_parse_vars_argument);
  g_test_add_func ("/script/load", test_load);
  g_test_add_func ("/script/durations", test_durations);
  g_test_add_func ("/script/signals", test_signals);
  g_test_add_func ("/script/expand", test_expand);
  g_test_add_func ("/script/expand/regex-quoting", test_expand_regex_quoting);
  return g_test_run ();
}
