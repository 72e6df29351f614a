/* Tests of "pipe-harness test", the runner of .pht test files: suites made
 * in a temporary folder, run by the built tool, checked through the TAP it
 * prints (parsed line by line), the JUnit XML it writes (parsed with
 * GMarkup), its exit status, and what it leaves behind. */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include "harness-run.h"

/* ------------------------------------------------------------------ */
/* Set-up */

typedef struct {
  Run run;
  char *suite;   /* run.tmp/suite: the test files */
  char *scratch; /* run.tmp/scratch: the runner's TMPDIR */
} Suite;

static void
suite_init (Suite *s)
{
  run_init (&s->run);
  s->suite = g_build_filename (s->run.tmp, "suite", NULL);
  s->scratch = g_build_filename (s->run.tmp, "scratch", NULL);
  g_assert_cmpint (g_mkdir (s->suite, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (s->scratch, 0700), ==, 0);
}

static void
suite_clear (Suite *s)
{
  run_clear (&s->run);
  g_free (s->suite);
  g_free (s->scratch);
}

/* A test file at suite/name (folders made as needed). */
static void
add (Suite *s, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (s->suite, name, NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

/* "pipe-harness test ARGS suite", in run.tmp, TMPDIR the scratch folder. */
static void
start_runner (Suite *s, const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *tmpdir = g_strdup_printf ("TMPDIR=%s", s->scratch);
  const char *env[] = { tmpdir, NULL };

  g_ptr_array_add (argv, (gpointer) "test");
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, s->suite);
  g_ptr_array_add (argv, NULL);
  run_start_full (&s->run, env, (const char *const *) argv->pdata);
}

#define runner(s, ...)                                                         \
  G_STMT_START {                                                               \
    const char *args_[] = { __VA_ARGS__, NULL };                               \
    start_runner ((s), args_);                                                 \
  } G_STMT_END

/* A child that writes its pid to suite/pids, then sleeps: what a test
 * leaves running would show. */
#define SLEEPER "echo $$ >> ${TEST_DIR}/pids; echo started; exec sleep 60"

/* Every process a test wrote to pids is gone, and the runner's scratch
 * folder (its FIFO folders and transcripts) is empty. */
static void
assert_nothing_left (Suite *s)
{
  g_autofree char *path = g_build_filename (s->suite, "pids", NULL);
  g_autofree char *text = NULL;
  if (g_file_get_contents (path, &text, NULL, NULL))
    {
      g_auto (GStrv) pids = g_strsplit (g_strstrip (text), "\n", -1);
      for (guint i = 0; pids[i] != NULL; i++)
        assert_gone ((GPid) g_ascii_strtoll (pids[i], NULL, 10));
    }
  assert_folder_holds (s->scratch, NULL);
}

static guint
count_pids (Suite *s)
{
  g_autofree char *path = g_build_filename (s->suite, "pids", NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  return tu_count (text, "\n");
}

/* ------------------------------------------------------------------ */
/* TAP, parsed */

typedef struct {
  gboolean ok;
  char *name;
  GString *yaml; /* the block's lines, without "  ---" and "  ..." */
} TapResult;

typedef struct {
  int plan;           /* -1: none */
  GPtrArray *results; /* TapResult */
  gboolean bailed_out;
  char *summary;      /* the last "# " line */
} Tap;

static void
tap_result_free (gpointer data)
{
  TapResult *r = data;
  g_free (r->name);
  g_string_free (r->yaml, TRUE);
  g_free (r);
}

static void
tap_free (Tap *tap)
{
  g_ptr_array_unref (tap->results);
  g_free (tap->summary);
  g_free (tap);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Tap, tap_free)

/* Parses the runner's stdout, failing the test on any line TAP 14 (as the
 * runner writes it) does not allow. */
static Tap *
tap_parse (const char *out)
{
  Tap *tap = g_new0 (Tap, 1);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  TapResult *last = NULL;
  gboolean in_yaml = FALSE;

  tap->plan = -1;
  tap->results = g_ptr_array_new_with_free_func (tap_result_free);
  g_assert_cmpstr (lines[0], ==, "TAP version 14");
  for (guint i = 1; lines[i] != NULL; i++)
    {
      const char *line = lines[i];
      if (in_yaml)
        {
          if (strcmp (line, "  ...") == 0)
            in_yaml = FALSE;
          else
            {
              g_assert_true (g_str_has_prefix (line, "  "));
              g_string_append_printf (last->yaml, "%s\n", line + 2);
            }
          continue;
        }
      if (strcmp (line, "  ---") == 0)
        {
          g_assert_nonnull (last);
          g_assert_cmpuint (last->yaml->len, ==, 0);
          in_yaml = TRUE;
          continue;
        }
      if (*line == '\0')
        {
          g_assert_null (lines[i + 1]); /* only after the last newline */
          continue;
        }
      if (g_str_has_prefix (line, "1.."))
        {
          g_assert_cmpint (tap->plan, ==, -1);
          g_assert_cmpuint (tap->results->len, ==, 0);
          tap->plan = (int) g_ascii_strtoll (line + 3, NULL, 10);
          continue;
        }
      if (g_str_has_prefix (line, "# "))
        {
          g_free (tap->summary);
          tap->summary = g_strdup (line + 2);
          continue;
        }
      if (g_str_has_prefix (line, "Bail out!"))
        {
          tap->bailed_out = TRUE;
          continue;
        }
      gboolean ok = g_str_has_prefix (line, "ok ");
      g_assert_true (ok || g_str_has_prefix (line, "not ok "));
      const char *p = line + (ok ? 3 : 7);
      char *end;
      guint64 number = g_ascii_strtoull (p, &end, 10);
      g_assert_cmpuint (number, ==, tap->results->len + 1);
      g_assert_true (g_str_has_prefix (end, " - "));
      last = g_new0 (TapResult, 1);
      last->ok = ok;
      const char *comment = strstr (end + 3, " # ");
      last->name = comment ? g_strndup (end + 3, comment - end - 3) : g_strdup (end + 3);
      last->yaml = g_string_new (NULL);
      if (ok)
        g_assert_true (comment != NULL && g_str_has_prefix (comment, " # time="));
      g_ptr_array_add (tap->results, last);
    }
  g_assert_false (in_yaml);
  g_assert_cmpint (tap->plan, >=, 0);
  return tap;
}

static TapResult *
tap_find (Tap *tap, const char *name)
{
  for (guint i = 0; i < tap->results->len; i++)
    {
      TapResult *r = g_ptr_array_index (tap->results, i);
      if (strcmp (r->name, name) == 0)
        return r;
    }
  g_error ("no result for %s", name);
}

/* The names of the results, sorted, joined with spaces. */
static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static char *
tap_names (Tap *tap)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  for (guint i = 0; i < tap->results->len; i++)
    g_ptr_array_add (names, ((TapResult *) g_ptr_array_index (tap->results, i))->name);
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static Tap *
run_to_end (Suite *s, int expected_status)
{
  g_assert_cmpint (run_wait (&s->run), ==, expected_status);
  return tap_parse (run_out (&s->run));
}

/* ------------------------------------------------------------------ */
/* The tests */

#define PASSING                                                                \
  "# passes\n"                                                                 \
  "child server cat\n"                                                         \
  "child client cat   # the shell's comment\n"                                 \
  "timeout 10s        # ours\n"                                                \
  "\n"                                                                         \
  "send server hello\n"                                                        \
  "expect server /^hello$/\n"                                                  \
  "send client world\n"                                                        \
  "expect client /^world$/\n"

#define FAILING                                                                \
  "child server cat\n"                                                         \
  "child client cat\n"                                                         \
  "send server hello\n"                                                        \
  "send client \"quoted\" and \\ backslash\n"                                  \
  "expect client /quoted/\n"                                                   \
  "expect server /^nope$/ 300ms\n"

#define HANGING                                                                \
  "shell\n"                                                                    \
  "child a " SLEEPER "\n"                                                      \
  "timeout 1s\n"                                                               \
  "expect a /never/ 30s\n"

#define MALFORMED                                                              \
  "child a cat\n"                                                              \
  "send a x\n"                                                                 \
  "child b cat\n"

/* Passing, failing, hanging and malformed tests: each gets its verdict and
 * report, the hanging one is ended by its timeout while the run goes on,
 * and nothing is left. */
static void
test_verdicts (void)
{
  Suite s;
  suite_init (&s);
  add (&s, "pass.pht", PASSING);
  add (&s, "fail.pht", FAILING);
  add (&s, "deep/hang.pht", HANGING);
  add (&s, "bad.pht", MALFORMED);
  add (&s, "bad-ready.pht", "child a cat\nready b /x/\nsend a x\n");
  add (&s, "not-a-test.txt", "child a cat\n");

  gint64 start = tu_now_us ();
  runner (&s, "-j", "5");
  g_autoptr (Tap) tap = run_to_end (&s, 1);
  /* The hanging test took its 1 s, not its step's 30 s. */
  g_assert_cmpint (tu_now_us () - start, <, 5 * G_USEC_PER_SEC);

  g_assert_cmpint (tap->plan, ==, 5);
  g_assert_cmpuint (tap->results->len, ==, 5);
  g_assert_cmpstr (tap->summary, !=, NULL);
  g_assert_true (g_str_has_prefix (tap->summary, "1 passed, 4 failed"));
  g_assert_false (tap->bailed_out);

  TapResult *r = tap_find (tap, "pass");
  g_assert_true (r->ok);
  g_assert_cmpuint (r->yaml->len, ==, 0);

  r = tap_find (tap, "fail");
  g_assert_false (r->ok);
  g_autofree char *fail_path = g_build_filename (s.suite, "fail.pht", NULL);
  g_autofree char *file_key = g_strdup_printf ("\nfile: \"%s\"\n", fail_path);
  g_assert_true (g_str_has_prefix (r->yaml->str, "message: \"no matching line within 300ms"));
  g_assert_nonnull (strstr (r->yaml->str, file_key));
  g_assert_nonnull (strstr (r->yaml->str, "\nline: 6\n"));
  g_assert_nonnull (strstr (r->yaml->str, "\nstep: \"expect server /^nope$/ 300ms\"\n"));
  g_assert_nonnull (strstr (r->yaml->str, "\nstatus: 3\n"));
  g_assert_nonnull (strstr (r->yaml->str, "\nchildren:\n  \"server\":\n    - \"hello\"\n"));
  g_assert_nonnull (strstr (r->yaml->str, "\nduration_ms: "));

  r = tap_find (tap, "deep/hang");
  g_assert_false (r->ok);
  g_assert_true (g_str_has_prefix (r->yaml->str, "message: \"the test did not finish within 1 s\"\n"));
  g_assert_nonnull (strstr (r->yaml->str, "\nstep: \"expect a /never/ 30s\"\n"));
  g_assert_nonnull (strstr (r->yaml->str, "\nchildren:\n  \"a\":\n    - \"started\"\n"));

  r = tap_find (tap, "bad");
  g_assert_false (r->ok);
  g_assert_true (g_str_has_prefix (r->yaml->str, "message: \"'child b cat' is a header line"));
  g_assert_nonnull (strstr (r->yaml->str, "\nline: 3\n"));
  g_assert_nonnull (strstr (r->yaml->str, "\nstatus: 2\n"));

  r = tap_find (tap, "bad-ready");
  g_assert_false (r->ok);
  g_assert_true (g_str_has_prefix (r->yaml->str, "message: \"ready: there is no child named 'b'"));
  g_assert_nonnull (strstr (r->yaml->str, "\nline: 2\n"));

  assert_nothing_left (&s);
  suite_clear (&s);
}

/* A client's quotes and backslashes reach the YAML escaped. */
static void
test_yaml_escapes (void)
{
  Suite s;
  suite_init (&s);
  add (&s, "fail.pht",
       "child client cat\nsend client say \"hi\" \\ there\texactly\n"
       "expect client /^nothing$/ 200ms\n");
  start_runner (&s, NULL);
  g_autoptr (Tap) tap = run_to_end (&s, 1);
  TapResult *r = tap_find (tap, "fail");
  g_assert_nonnull (strstr (r->yaml->str, "    - \"say \\\"hi\\\" \\\\ there\\texactly\"\n"));
  suite_clear (&s);
}

/* 0 when all pass, 1 when one fails, 2 for bad usage (and no TAP). */
static void
test_exit_statuses (void)
{
  static const char *const bad_usage[][3] = {
    { "--shard", "4/3", NULL },
    { "--shard", "0/3", NULL },
    { "--shard", "x", NULL },
    { "-j", "-1", NULL },
    { "--no-such-option", NULL, NULL },
  };
  Suite s;
  suite_init (&s);
  add (&s, "pass.pht", PASSING);
  add (&s, "fail.pht", FAILING);

  runner (&s, "--filter", "pa*");
  g_autoptr (Tap) passed = run_to_end (&s, 0);
  g_autofree char *names = tap_names (passed);
  g_assert_cmpstr (names, ==, "pass");
  g_clear_pointer (&s.run.proc, tu_proc_free);

  runner (&s, "--filter", "nothing-matches");
  g_autoptr (Tap) none = run_to_end (&s, 0);
  g_assert_cmpint (none->plan, ==, 0);
  g_clear_pointer (&s.run.proc, tu_proc_free);

  for (guint i = 0; i < G_N_ELEMENTS (bad_usage); i++)
    {
      start_runner (&s, bad_usage[i]);
      g_assert_cmpint (run_wait (&s.run), ==, 2);
      g_assert_cmpstr (run_out (&s.run), ==, "");
      g_assert_true (g_str_has_prefix (run_err (&s.run), "pipe-harness: test: "));
      g_assert_cmpuint (tu_count (run_err (&s.run), "\n"), ==, 1);
      g_clear_pointer (&s.run.proc, tu_proc_free);
    }
  const char *missing[] = { PIPE_HARNESS, "test", "/nonexistent/suite", NULL };
  g_autofree char *err = NULL;
  g_assert_cmpint (tu_run (missing, NULL, WAIT_MS, NULL, &err), ==, 2);
  g_assert_cmpstr (err, ==, "pipe-harness: /nonexistent/suite: no such test file or folder\n");

  start_runner (&s, NULL);
  g_autoptr (Tap) both = run_to_end (&s, 1);
  g_assert_cmpuint (both->results->len, ==, 2);
  assert_nothing_left (&s);
  suite_clear (&s);
}

/* GMarkup's view of the JUnit file: what the test checks of it. */
typedef struct {
  guint suites;
  guint cases;
  guint failures;
  GString *names;       /* "name:classname " per testcase */
  GString *messages;    /* failure messages, one a line */
  GString *out;         /* every system-out */
  gboolean in_out;
  char *suite_tests;
  char *suite_failures;
} Junit;

static void
junit_start (GMarkupParseContext *context, const char *element, const char **names,
             const char **values, gpointer data, GError **error)
{
  Junit *j = data;
  (void) context;
  (void) error;
  if (strcmp (element, "testsuite") == 0)
    {
      j->suites++;
      for (guint i = 0; names[i] != NULL; i++)
        if (strcmp (names[i], "tests") == 0)
          j->suite_tests = g_strdup (values[i]);
        else if (strcmp (names[i], "failures") == 0)
          j->suite_failures = g_strdup (values[i]);
    }
  else if (strcmp (element, "testcase") == 0)
    {
      const char *name = NULL, *classname = NULL;
      j->cases++;
      for (guint i = 0; names[i] != NULL; i++)
        if (strcmp (names[i], "name") == 0)
          name = values[i];
        else if (strcmp (names[i], "classname") == 0)
          classname = values[i];
      g_string_append_printf (j->names, "%s:%s ", name, classname);
    }
  else if (strcmp (element, "failure") == 0)
    {
      j->failures++;
      for (guint i = 0; names[i] != NULL; i++)
        if (strcmp (names[i], "message") == 0)
          g_string_append_printf (j->messages, "%s\n", values[i]);
    }
  j->in_out = strcmp (element, "system-out") == 0;
}

static void
junit_end (GMarkupParseContext *context, const char *element, gpointer data, GError **error)
{
  Junit *j = data;
  (void) context;
  (void) element;
  (void) error;
  j->in_out = FALSE;
}

static void
junit_text (GMarkupParseContext *context, const char *text, gsize len, gpointer data,
            GError **error)
{
  Junit *j = data;
  (void) context;
  (void) error;
  if (j->in_out)
    g_string_append_len (j->out, text, len);
}

/* JUnit XML that parses, with a testcase per file, failures with their
 * message, transcripts as system-out (bytes XML does not allow replaced);
 * --keep keeps failed tests' transcripts only. */
static void
test_junit_and_keep (void)
{
  static const GMarkupParser parser = { junit_start, junit_end, junit_text, NULL, NULL };
  Suite s;
  suite_init (&s);
  add (&s, "pass.pht", PASSING);
  add (&s, "group/fail.pht", FAILING);
  add (&s, "bytes.pht", "shell\nchild a printf 'ctl \\001\\033 bad \\377 <&>\\n'; sleep 5\n"
                        "expect a /ctl/\nexpect a /never/ 200ms\n");
  g_autofree char *xml_path = g_build_filename (s.run.tmp, "out.xml", NULL);
  g_autofree char *keep = g_build_filename (s.run.tmp, "kept", NULL);
  runner (&s, "--junit", xml_path, "--keep", keep);
  g_autoptr (Tap) tap = run_to_end (&s, 1);

  g_autofree char *xml = NULL;
  g_assert_true (g_file_get_contents (xml_path, &xml, NULL, NULL));
  Junit j = { .names = g_string_new (NULL), .messages = g_string_new (NULL),
              .out = g_string_new (NULL) };
  g_autoptr (GMarkupParseContext) context = g_markup_parse_context_new (&parser, 0, &j, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_markup_parse_context_parse (context, xml, -1, &error) &&
                 g_markup_parse_context_end_parse (context, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (j.suites, ==, 1);
  g_assert_cmpuint (j.cases, ==, 3);
  g_assert_cmpuint (j.failures, ==, 2);
  g_assert_cmpstr (j.suite_tests, ==, "3");
  g_assert_cmpstr (j.suite_failures, ==, "2");
  g_assert_nonnull (strstr (j.names->str, "pass:pipe-harness "));
  g_assert_nonnull (strstr (j.names->str, "group/fail:group "));
  g_assert_nonnull (strstr (j.messages->str, "expect server /^nope$/ 300ms: no matching line"));
  g_assert_nonnull (strstr (j.out->str, "client: world\n"));
  g_assert_nonnull (strstr (j.out->str, "a: ctl \xef\xbf\xbd\xef\xbf\xbd bad \xef\xbf\xbd <&>\n"));

  g_autofree char *kept_fail = g_build_filename (keep, "group", "fail.log", NULL);
  g_autofree char *kept_pass = g_build_filename (keep, "pass.log", NULL);
  g_autofree char *log = NULL;
  g_assert_true (g_file_get_contents (kept_fail, &log, NULL, NULL));
  g_assert_nonnull (strstr (log, "server: hello\n"));
  g_assert_false (g_file_test (kept_pass, G_FILE_TEST_EXISTS));
  g_autofree char *kept_key = g_strdup_printf ("\ntranscript: \"%s\"\n", kept_fail);
  g_assert_nonnull (strstr (tap_find (tap, "group/fail")->yaml->str, kept_key));

  g_string_free (j.names, TRUE);
  g_string_free (j.messages, TRUE);
  g_string_free (j.out, TRUE);
  g_free (j.suite_tests);
  g_free (j.suite_failures);
  assert_nothing_left (&s);
  suite_clear (&s);
}

#define ONE_SECOND "child a sleep 1\nwait a 5s\n"

/* -j 2 runs two tests of a second each at once; -j 1 one after the other. */
static void
test_jobs (void)
{
  Suite s;
  suite_init (&s);
  add (&s, "one.pht", ONE_SECOND);
  add (&s, "two.pht", ONE_SECOND);

  gint64 start = tu_now_us ();
  runner (&s, "-j", "2");
  g_autoptr (Tap) parallel = run_to_end (&s, 0);
  g_assert_cmpint (tu_now_us () - start, <, 1700 * 1000);
  g_assert_cmpuint (parallel->results->len, ==, 2);
  g_clear_pointer (&s.run.proc, tu_proc_free);

  start = tu_now_us ();
  runner (&s, "-j", "1");
  g_autoptr (Tap) serial = run_to_end (&s, 0);
  g_assert_cmpint (tu_now_us () - start, >=, 2 * G_USEC_PER_SEC);
  suite_clear (&s);
}

/* Shards 1/3, 2/3 and 3/3 run every test exactly once between them, and
 * the same test always lands in the same shard. */
static void
test_shards (void)
{
  Suite s;
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  suite_init (&s);
  for (guint i = 0; i < 9; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s/t%u.pht", i % 2 ? "odd" : "even", i);
      add (&s, name, "child a cat\nsend a x\nexpect a /x/\n");
    }
  for (guint k = 1; k <= 3; k++)
    {
      g_autofree char *shard = g_strdup_printf ("%u/3", k);
      runner (&s, "--shard", shard);
      g_autoptr (Tap) tap = run_to_end (&s, 0);
      g_assert_cmpint (tap->plan, ==, (int) tap->results->len);
      for (guint i = 0; i < tap->results->len; i++)
        {
          TapResult *r = g_ptr_array_index (tap->results, i);
          g_assert_true (r->ok);
          g_assert_false (g_hash_table_contains (seen, r->name));
          g_hash_table_insert (seen, g_strdup (r->name), GUINT_TO_POINTER (k));
        }
      g_clear_pointer (&s.run.proc, tu_proc_free);
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, 9);

  runner (&s, "--shard", "2/3");
  g_autoptr (Tap) again = run_to_end (&s, 0);
  for (guint i = 0; i < again->results->len; i++)
    {
      TapResult *r = g_ptr_array_index (again->results, i);
      g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (seen, r->name)), ==, 2);
    }
  suite_clear (&s);
}

/* Two tests that both name a child "server", running at once, never see
 * each other's input or output. */
static void
test_isolation (void)
{
  Suite s;
  suite_init (&s);
  add (&s, "left.pht", "child server cat\nsend server left-token\n"
                       "expect server /^left-token$/\nrefute server /right-token/ 1s\n"
                       "send server left-again\nexpect server /^left-again$/\n");
  add (&s, "right.pht", "child server cat\nsend server right-token\n"
                        "expect server /^right-token$/\nrefute server /left-token/ 1s\n"
                        "send server right-again\nexpect server /^right-again$/\n");
  gint64 start = tu_now_us ();
  runner (&s, "-j", "2");
  g_autoptr (Tap) tap = run_to_end (&s, 0);
  /* Both refutes' seconds passed at the same time. */
  g_assert_cmpint (tu_now_us () - start, <, 1700 * 1000);
  g_assert_true (tap_find (tap, "left")->ok);
  g_assert_true (tap_find (tap, "right")->ok);
  assert_nothing_left (&s);
  suite_clear (&s);
}

/* SIGINT stops the running tests and their children, starts no other, and
 * the summary says what ran. */
static void
test_interrupt (void)
{
  Suite s;
  suite_init (&s);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *name = g_strdup_printf ("hang%u.pht", i);
      add (&s, name, "shell\nchild a " SLEEPER "\nexpect a /never/ 60s\n");
    }
  runner (&s, "-j", "2");
  gint64 deadline = tu_now_us () + WAIT_MS * 1000;
  while (count_pids (&s) < 2 && tu_now_us () < deadline)
    tu_sleep_ms (20);
  g_assert_cmpuint (count_pids (&s), ==, 2);

  tu_proc_signal (s.run.proc, SIGINT);
  g_autoptr (Tap) tap = run_to_end (&s, 128 + SIGINT);
  g_assert_true (tap->bailed_out);
  g_assert_cmpuint (tap->results->len, ==, 2);
  g_assert_true (g_str_has_prefix (tap->summary, "0 passed, 2 failed, 1 not run"));
  for (guint i = 0; i < tap->results->len; i++)
    {
      TapResult *r = g_ptr_array_index (tap->results, i);
      g_assert_false (r->ok);
      g_assert_true (g_str_has_prefix (r->yaml->str, "message: \"interrupted"));
    }
  g_assert_cmpuint (count_pids (&s), ==, 2);
  assert_nothing_left (&s);
  suite_clear (&s);
}

/* Tests see the runner's environment, their env lines and TEST_DIR, and
 * run in their own folder. */
static void
test_environment (void)
{
  Suite s;
  suite_init (&s);
  add (&s, "sub/env.pht",
       "shell\n"
       "env GREETING hello ${FROM_RUNNER}\n"
       "child a echo \"$GREETING|$TEST_DIR|$(pwd)\"; cat ./data.txt; exec sleep 5\n"
       "expect a /^hello runner\\|${TEST_DIR}\\|${TEST_DIR}$/\n"
       "expect a /^from the file$/\n");
  add (&s, "sub/data.txt", "from the file\n");
  g_autofree char *tmpdir = g_strdup_printf ("TMPDIR=%s", s.scratch);
  const char *env[] = { tmpdir, "FROM_RUNNER=runner", NULL };
  const char *args[] = { "test", s.suite, NULL };
  run_start_full (&s.run, env, args);
  g_autoptr (Tap) tap = run_to_end (&s, 0);
  g_assert_true (tap_find (tap, "sub/env")->ok);
  suite_clear (&s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/runner/verdicts", test_verdicts);
  g_test_add_func ("/runner/yaml-escapes", test_yaml_escapes);
  g_test_add_func ("/runner/exit-statuses", test_exit_statuses);
  g_test_add_func ("/runner/junit-and-keep", test_junit_and_keep);
  g_test_add_func ("/runner/jobs", test_jobs);
  g_test_add_func ("/runner/shards", test_shards);
  g_test_add_func ("/runner/isolation", test_isolation);
  g_test_add_func ("/runner/interrupt", test_interrupt);
  g_test_add_func ("/runner/environment", test_environment);
  return g_test_run ();
}
