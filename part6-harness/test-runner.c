/* test-runner: "pipe-harness test"; see test-runner.h.
 *
 * Shards: a test belongs to shard K of N when the FNV-1a hash of its name
 * (its path relative to the folder given, without ".pht") is K-1 modulo N.
 * A test keeps its shard when others are added or removed, and every
 * machine computes the same split.
 */
#include "test-runner.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "report.h"
#include "script-run.h"
#include "test-file.h"

#define TEST_SUFFIX ".pht"
#define RUN_KILL_TIMEOUT_US (2 * G_USEC_PER_SEC)
/* Past its own timeout, a test's process has this long to stop its
 * children and exit before it gets SIGTERM; then as long again before
 * SIGKILL. */
#define BACKSTOP_MARGIN_MS 5000
#define REPORT_PREFIX "pipe-harness: "

typedef struct {
  char *path;          /* absolute */
  char *name;          /* relative to the argument, without .pht */
  gint64 timeout_us;
  /* While it runs */
  struct Runner *runner;
  GSubprocess *proc;
  char *folder;        /* its private folder: TMPDIR, transcript */
  gint64 started_us;
  guint backstop;
  gboolean backstop_fired;
  /* Its result */
  gboolean done;
  gboolean passed;
  int status;
  gint64 duration_us;
  char *report;        /* what it printed on stderr */
  char *transcript;
} Test;

typedef struct Runner {
  GPtrArray *tests;    /* Test, in order */
  guint next;          /* the next to start */
  guint running;
  guint finished;
  guint failed;
  guint jobs;
  char *self;
  char *tmp;
  char *keep;
  GMainLoop *loop;
  int interrupted;     /* the signal, or 0 */
  gboolean progress;   /* stdout is a terminal */
  gint64 started_us;
  guint signal_watches[2];
} Runner;

static void
test_free (gpointer data)
{
  Test *t = data;
  g_free (t->path);
  g_free (t->name);
  g_clear_object (&t->proc);
  g_free (t->folder);
  g_free (t->report);
  g_free (t->transcript);
  g_free (t);
}

/* ------------------------------------------------------------------ */
/* One test, in its own process */

/* The hidden mode: the test file's header becomes the options of a
 * scripted run, its env lines the children's environment. */
static int
run_one (const char *file, const char *transcript)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_canonicalize_filename (file, NULL);
  g_autoptr (TestFile) test = test_file_load (path, &error);

  report_set_quiet (TRUE);
  if (test == NULL)
    {
      report_error ("%s", error->message);
      return EXIT_USAGE;
    }
  if (chdir (test->dir) != 0)
    {
      report_error ("%s: %s", test->dir, g_strerror (errno));
      return EXIT_USAGE;
    }
  g_setenv ("TEST_DIR", test->dir, TRUE);
  for (guint i = 0; test->env[i] != NULL; i++)
    {
      g_auto (GStrv) pair = g_strsplit (test->env[i], "=", 2);
      g_setenv (pair[0], pair[1], TRUE);
    }
  HarnessOptions opt = {
    .commands = test->commands,
    .names = test->names,
    .shell = test->shell,
    .script = path,
    .script_is_test_file = TRUE,
    .exit_after_script = TRUE,
    .kill_timeout_us = RUN_KILL_TIMEOUT_US,
    .pty_all = test->pty_all,
    .pty = test->pty,
    .log = (char *) transcript,
    .ready = test->ready,
    /* The whole test's timeout reports a missing ready line, with what
     * every child printed. */
    .ready_timeout_us = test->timeout_us + G_USEC_PER_SEC,
    .hold = test->hold,
    .match_max = SCRIPT_DEFAULT_MATCH_MAX,
    .timeout_us = test->timeout_us,
  };
  return harness_run (&opt);
}

/* ------------------------------------------------------------------ */
/* Finding the tests */

static int
compare_tests (gconstpointer a, gconstpointer b)
{
  const Test *x = *(Test *const *) a, *y = *(Test *const *) b;
  return strcmp (x->name, y->name);
}

static void
add_test (GPtrArray *found, const char *path, const char *name)
{
  Test *t = g_new0 (Test, 1);
  t->path = g_canonicalize_filename (path, NULL);
  t->name = g_strndup (name, strlen (name) - (g_str_has_suffix (name, TEST_SUFFIX)
                                              ? strlen (TEST_SUFFIX) : 0));
  g_ptr_array_add (found, t);
}

/* The .pht files below dir (not through symbolic links to folders). */
static gboolean
find_in (GPtrArray *found, const char *dir, const char *relative, GError **error)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  const char *entry;

  if (d == NULL)
    return FALSE;
  while ((entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, entry, NULL);
      g_autofree char *rel = relative ? g_build_filename (relative, entry, NULL)
                                      : g_strdup (entry);
      GStatBuf st;
      if (g_lstat (path, &st) != 0)
        continue;
      if (S_ISDIR (st.st_mode))
        {
          if (!find_in (found, path, rel, error))
            return FALSE;
        }
      else if (g_str_has_suffix (entry, TEST_SUFFIX) && g_file_test (path, G_FILE_TEST_IS_REGULAR))
        add_test (found, path, rel);
    }
  return TRUE;
}

static gboolean
find_tests (GPtrArray *tests, char **args, GError **error)
{
  for (guint i = 0; args[i] != NULL; i++)
    {
      g_autoptr (GPtrArray) found = g_ptr_array_new ();
      if (g_file_test (args[i], G_FILE_TEST_IS_DIR))
        {
          if (!find_in (found, args[i], NULL, error))
            return FALSE;
        }
      else if (g_file_test (args[i], G_FILE_TEST_IS_REGULAR))
        {
          g_autofree char *base = g_path_get_basename (args[i]);
          add_test (found, args[i], base);
        }
      else
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                       "%s: no such test file or folder", args[i]);
          return FALSE;
        }
      g_ptr_array_sort (found, compare_tests);
      g_ptr_array_extend_and_steal (tests, g_steal_pointer (&found));
    }
  return TRUE;
}

static guint32
fnv1a (const char *text)
{
  guint32 hash = 2166136261u;
  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    hash = (hash ^ *p) * 16777619u;
  return hash;
}

static gboolean
parse_shard (const char *text, guint *k, guint *n, GError **error)
{
  guint64 a, b;
  g_auto (GStrv) parts = g_strsplit (text, "/", -1);
  if (g_strv_length (parts) != 2 ||
      !g_ascii_string_to_unsigned (parts[1], 10, 1, G_MAXUINT32, &b, NULL) ||
      !g_ascii_string_to_unsigned (parts[0], 10, 1, b, &a, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--shard: '%s' is not K/N with 1 <= K <= N (like 2/4)", text);
      return FALSE;
    }
  *k = a;
  *n = b;
  return TRUE;
}

/* Keeps the tests that match a filter (if any) and are in the shard. */
static void
select_tests (GPtrArray *tests, char **filters, guint shard, guint shards)
{
  for (guint i = tests->len; i-- > 0;)
    {
      Test *t = g_ptr_array_index (tests, i);
      gboolean keep = filters == NULL;
      for (guint f = 0; !keep && filters[f] != NULL; f++)
        keep = g_pattern_match_simple (filters[f], t->name);
      if (keep && shards > 1)
        keep = fnv1a (t->name) % shards == shard - 1;
      if (!keep)
        g_ptr_array_remove_index (tests, i);
    }
}

/* ------------------------------------------------------------------ */
/* Reports: TAP, and JUnit XML */

/* A YAML double-quoted scalar: always valid, whatever the text holds. */
static void
append_yaml_string (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0';)
    {
      gunichar c = g_utf8_get_char_validated (p, -1);
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guchar) *p++);
          continue;
        }
      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", (char) c);
      else if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else if (c < 0x20 || c == 0x7f)
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  g_string_append_c (out, '"');
}

static void
append_yaml_key (GString *out, const char *indent, const char *key, const char *value)
{
  g_string_append_printf (out, "%s%s: ", indent, key);
  append_yaml_string (out, value);
  g_string_append_c (out, '\n');
}

/* Line line_no of the file, its blanks trimmed, or NULL. */
static char *
file_line (const char *path, guint64 line_no)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  if (line_no == 0 || line_no > g_strv_length (lines))
    return NULL;
  return g_strdup (g_strstrip (lines[line_no - 1]));
}

typedef struct {
  char *name;
  GPtrArray *lines;
} ChildLines;

static void
child_lines_free (gpointer data)
{
  ChildLines *c = data;
  g_free (c->name);
  g_ptr_array_unref (c->lines);
  g_free (c);
}

/* "client printed last:" or "client printed last ('=' …):" or "client
 * printed nothing": its name, or NULL. */
static char *
child_heading (const char *line)
{
  const char *space = strchr (line, ' ');
  if (space == NULL || space == line)
    return NULL;
  if (strcmp (space, " printed nothing") != 0 &&
      !(g_str_has_prefix (space, " printed last") && g_str_has_suffix (space, ":")))
    return NULL;
  return g_strndup (line, space - line);
}

/* The failure's YAML block, read from the report the test printed: its
 * first line "PATH:LINE: STEP: WHY", then each child's last lines. */
static char *
failure_yaml (const Test *t, const char *keep_path)
{
  g_autoptr (GString) yaml = g_string_new ("  ---\n");
  g_autoptr (GString) message = g_string_new (NULL);
  g_autoptr (GPtrArray) children = g_ptr_array_new_with_free_func (child_lines_free);
  g_autofree char *step = NULL;
  guint64 line_no = 0;
  ChildLines *current = NULL;
  g_auto (GStrv) lines = g_strsplit (t->report ? t->report : "", "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];
      if (g_str_has_prefix (line, REPORT_PREFIX))
        line += strlen (REPORT_PREFIX);
      else if (*line == '\0')
        continue;
      g_autofree char *child = child_heading (line);
      if (child != NULL)
        {
          current = g_new0 (ChildLines, 1);
          current->name = g_steal_pointer (&child);
          current->lines = g_ptr_array_new_with_free_func (g_free);
          g_ptr_array_add (children, current);
          continue;
        }
      if (current != NULL && (g_str_has_prefix (line, "  | ") || g_str_has_prefix (line, "  = ")))
        {
          g_ptr_array_add (current->lines, g_strdup (line + 4));
          continue;
        }
      current = NULL;
      if (message->len == 0 && g_str_has_prefix (line, t->path) &&
          line[strlen (t->path)] == ':')
        {
          const char *at = line + strlen (t->path) + 1;
          char *end;
          line_no = g_ascii_strtoull (at, &end, 10);
          if (end != at && g_str_has_prefix (end, ": "))
            {
              at = end + 2;
              step = file_line (t->path, line_no);
              if (step != NULL && g_str_has_prefix (at, step) &&
                  g_str_has_prefix (at + strlen (step), ": "))
                at += strlen (step) + 2;
              else
                g_clear_pointer (&step, g_free);
            }
          else
            {
              line_no = 0;
              at = g_str_has_prefix (at, " ") ? at + 1 : at;
            }
          g_string_append (message, at);
          continue;
        }
      if (message->len > 0)
        g_string_append_c (message, '\n');
      g_string_append (message, line);
    }

  if (t->backstop_fired)
    g_string_append_printf (message, "%sstopped: it did not end %d s after its "
                            "timeout", message->len > 0 ? "\n" : "",
                            BACKSTOP_MARGIN_MS / 1000);
  if (message->len == 0)
    g_string_append_printf (message, "the test's process ended with status %d", t->status);
  append_yaml_key (yaml, "  ", "message", message->str);
  append_yaml_key (yaml, "  ", "file", t->path);
  if (line_no > 0)
    g_string_append_printf (yaml, "  line: %" G_GUINT64_FORMAT "\n", line_no);
  if (step != NULL)
    append_yaml_key (yaml, "  ", "step", step);
  g_string_append_printf (yaml, "  status: %d\n", t->status);
  if (children->len > 0)
    g_string_append (yaml, "  children:\n");
  for (guint i = 0; i < children->len; i++)
    {
      ChildLines *c = g_ptr_array_index (children, i);
      g_string_append (yaml, "    ");
      append_yaml_string (yaml, c->name);
      g_string_append (yaml, c->lines->len == 0 ? ": []\n" : ":\n");
      for (guint l = 0; l < c->lines->len; l++)
        {
          g_string_append (yaml, "      - ");
          append_yaml_string (yaml, g_ptr_array_index (c->lines, l));
          g_string_append_c (yaml, '\n');
        }
    }
  if (keep_path != NULL)
    append_yaml_key (yaml, "  ", "transcript", keep_path);
  g_string_append_printf (yaml, "  duration_ms: %" G_GINT64_FORMAT "\n  ...\n",
                          t->duration_us / 1000);
  return g_string_free (g_steal_pointer (&yaml), FALSE);
}

static void
clear_progress (Runner *r)
{
  if (r->progress)
    fputs ("\r\033[K", stdout);
}

static void
show_progress (Runner *r, const Test *latest)
{
  if (!r->progress || latest == NULL)
    return;
  printf ("\r\033[K[%u/%u] running %s…", r->finished, r->tests->len, latest->name);
  fflush (stdout);
}

/* Text that XML 1.0 allows: bytes that are not UTF-8, and characters it
 * forbids (most control characters), become U+FFFD. */
static char *
xml_text (const char *text)
{
  g_autofree char *valid = g_utf8_make_valid (text ? text : "", -1);
  GString *out = g_string_new (NULL);
  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      gboolean allowed = c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
                         (c >= 0xe000 && c <= 0xfffd) || c >= 0x10000;
      g_string_append_unichar (out, allowed ? c : 0xfffd);
    }
  g_autofree char *plain = g_string_free (out, FALSE);
  return g_markup_escape_text (plain, -1);
}

static gboolean
write_junit (Runner *r, const char *path, GError **error)
{
  g_autoptr (GString) xml = g_string_new ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  double total = (double) (g_get_monotonic_time () - r->started_us) / G_USEC_PER_SEC;

  g_string_append_printf (xml, "<testsuites tests=\"%u\" failures=\"%u\" time=\"%.3f\">\n"
                          "  <testsuite name=\"pipe-harness\" tests=\"%u\" failures=\"%u\" "
                          "time=\"%.3f\">\n", r->finished, r->failed, total,
                          r->finished, r->failed, total);
  for (guint i = 0; i < r->tests->len; i++)
    {
      Test *t = g_ptr_array_index (r->tests, i);
      if (!t->done)
        continue;
      g_autofree char *name = xml_text (t->name);
      g_autofree char *dir = g_path_get_dirname (t->name);
      g_strdelimit (dir, "/", '.');
      g_autofree char *classname = xml_text (strcmp (dir, ".") == 0 ? "pipe-harness" : dir);
      g_string_append_printf (xml, "    <testcase name=\"%s\" classname=\"%s\" time=\"%.3f\">\n",
                              name, classname, (double) t->duration_us / G_USEC_PER_SEC);
      if (!t->passed)
        {
          g_auto (GStrv) report = g_strsplit (t->report ? t->report : "", "\n", 2);
          const char *first = report[0] != NULL ? report[0] : "";
          if (g_str_has_prefix (first, REPORT_PREFIX))
            first += strlen (REPORT_PREFIX);
          g_autofree char *message = xml_text (*first != '\0' ? first : "failed");
          g_autofree char *body = xml_text (t->report);
          g_string_append_printf (xml, "      <failure message=\"%s\">%s</failure>\n",
                                  message, body);
        }
      g_autofree char *out = xml_text (t->transcript);
      g_string_append_printf (xml, "      <system-out>%s</system-out>\n    </testcase>\n", out);
    }
  g_string_append (xml, "  </testsuite>\n</testsuites>\n");
  return g_file_set_contents (path, xml->str, xml->len, error);
}

/* ------------------------------------------------------------------ */
/* Running them */

/* Removes path and, if it is a folder, what is in it (never following a
 * symbolic link). */
static void
remove_tree (const char *path)
{
  GStatBuf st;
  if (g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
      const char *entry;
      while (d != NULL && (entry = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *sub = g_build_filename (path, entry, NULL);
          remove_tree (sub);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void start_more (Runner *r);

static char *
keep_transcript (Runner *r, Test *t)
{
  g_autofree char *path = g_strconcat (r->keep, G_DIR_SEPARATOR_S, t->name, ".log", NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr (GError) error = NULL;

  if (g_mkdir_with_parents (dir, 0755) != 0 ||
      !g_file_set_contents (path, t->transcript ? t->transcript : "", -1, &error))
    {
      report_error ("--keep: cannot write %s: %s", path,
                    error ? error->message : g_strerror (errno));
      return NULL;
    }
  return g_steal_pointer (&path);
}

static void
on_test_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Test *t = data;
  Runner *r = t->runner;
  g_autoptr (GBytes) err = NULL;
  g_autoptr (GError) error = NULL;

  if (!g_subprocess_communicate_finish (G_SUBPROCESS (source), result, NULL, &err, &error))
    {
      /* Its stderr could not be read: wait for its end all the same. */
      t->report = g_strdup_printf (REPORT_PREFIX "cannot read the test's report: %s\n",
                                   error->message);
      g_subprocess_wait (t->proc, NULL, NULL);
    }
  else
    t->report = g_strdup_printf ("%s%.*s", r->interrupted ? REPORT_PREFIX "interrupted\n" : "",
                                 (int) g_bytes_get_size (err),
                                 (const char *) g_bytes_get_data (err, NULL));
  g_clear_handle_id (&t->backstop, g_source_remove);
  t->duration_us = g_get_monotonic_time () - t->started_us;
  t->status = g_subprocess_get_if_signaled (t->proc)
                ? 128 + g_subprocess_get_term_sig (t->proc)
                : g_subprocess_get_exit_status (t->proc);
  t->passed = t->status == 0 && !t->backstop_fired;
  t->done = TRUE;
  g_autofree char *log = g_build_filename (t->folder, "transcript.log", NULL);
  g_file_get_contents (log, &t->transcript, NULL, NULL);
  remove_tree (t->folder);

  r->running--;
  r->finished++;
  g_autofree char *kept = NULL;
  if (!t->passed)
    {
      r->failed++;
      if (r->keep != NULL)
        kept = keep_transcript (r, t);
    }
  clear_progress (r);
  if (t->passed)
    printf ("ok %u - %s # time=%.2fs\n", r->finished, t->name,
            (double) t->duration_us / G_USEC_PER_SEC);
  else
    {
      g_autofree char *yaml = failure_yaml (t, kept);
      printf ("not ok %u - %s\n%s", r->finished, t->name, yaml);
    }
  fflush (stdout);
  start_more (r);
}

static gboolean
on_force_exit (gpointer data)
{
  Test *t = data;
  t->backstop = 0;
  g_subprocess_force_exit (t->proc);
  return G_SOURCE_REMOVE;
}

/* The test outlived its own timeout by far: its process is stuck. */
static gboolean
on_backstop (gpointer data)
{
  Test *t = data;
  t->backstop_fired = TRUE;
  g_subprocess_send_signal (t->proc, SIGTERM);
  t->backstop = g_timeout_add (BACKSTOP_MARGIN_MS, on_force_exit, t);
  return G_SOURCE_REMOVE;
}

/* The test's process leads a process group of its own: a Ctrl-C on the
 * terminal reaches the runner only, which stops each test once. */
static void
own_process_group (gpointer data)
{
  (void) data;
  setpgid (0, 0);
}

static gboolean
start_test (Runner *r, Test *t, GError **error)
{
  g_autofree char *folder_name = g_strdup_printf ("%u", r->next);
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
                               G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr (TestFile) header = test_file_load (t->path, NULL);

  t->runner = r;
  t->timeout_us = header != NULL ? header->timeout_us : TEST_FILE_DEFAULT_TIMEOUT_US;
  t->folder = g_build_filename (r->tmp, folder_name, NULL);
  if (g_mkdir (t->folder, 0700) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                   "cannot make %s: %s", t->folder, g_strerror (errno));
      return FALSE;
    }
  g_autofree char *log = g_build_filename (t->folder, "transcript.log", NULL);
  g_autofree char *dir = g_path_get_dirname (t->path);
  const char *argv[] = { r->self, "test", "--run-one", t->path, "--transcript", log, NULL };

  g_subprocess_launcher_setenv (launcher, "TMPDIR", t->folder, TRUE);
  g_subprocess_launcher_setenv (launcher, "XDG_RUNTIME_DIR", t->folder, TRUE);
  g_subprocess_launcher_set_cwd (launcher, dir);
  g_subprocess_launcher_set_child_setup (launcher, own_process_group, NULL, NULL);
  t->started_us = g_get_monotonic_time ();
  t->proc = g_subprocess_launcher_spawnv (launcher, argv, error);
  if (t->proc == NULL)
    return FALSE;
  t->backstop = g_timeout_add (t->timeout_us / 1000 + BACKSTOP_MARGIN_MS, on_backstop, t);
  g_subprocess_communicate_async (t->proc, NULL, NULL, on_test_done, t);
  r->running++;
  return TRUE;
}

static void
finish (Runner *r)
{
  guint passed = r->finished - r->failed;
  double total = (double) (g_get_monotonic_time () - r->started_us) / G_USEC_PER_SEC;

  clear_progress (r);
  printf ("# %u passed, %u failed", passed, r->failed);
  if (r->finished < r->tests->len)
    printf (", %u not run", r->tests->len - r->finished);
  printf (" (%.2f s)\n", total);
  if (r->interrupted)
    printf ("Bail out! interrupted by %s\n", g_strsignal (r->interrupted));
  fflush (stdout);
  g_main_loop_quit (r->loop);
}

static void
start_more (Runner *r)
{
  Test *latest = NULL;

  while (!r->interrupted && r->running < r->jobs && r->next < r->tests->len)
    {
      Test *t = g_ptr_array_index (r->tests, r->next++);
      g_autoptr (GError) error = NULL;
      if (!start_test (r, t, &error))
        {
          /* Reported as the test's failure. */
          t->report = g_strdup_printf (REPORT_PREFIX "cannot start: %s\n", error->message);
          t->status = EXIT_CANNOT_START;
          t->done = TRUE;
          r->finished++;
          r->failed++;
          clear_progress (r);
          printf ("not ok %u - %s\n", r->finished, t->name);
          g_autofree char *yaml = failure_yaml (t, NULL);
          fputs (yaml, stdout);
          continue;
        }
      latest = t;
    }
  if (r->running == 0)
    {
      finish (r);
      return;
    }
  if (latest == NULL)
    for (guint i = 0; i < r->next; i++)
      {
        Test *t = g_ptr_array_index (r->tests, i);
        if (!t->done && t->proc != NULL)
          latest = t;
      }
  show_progress (r, latest);
}

/* Ctrl-C: every running test is stopped (its children with it), no other
 * starts, and the summary tells what ran.  A second signal kills them. */
static gboolean
on_signal (Runner *r, int signum)
{
  for (guint i = 0; i < r->next; i++)
    {
      Test *t = g_ptr_array_index (r->tests, i);
      if (!t->done && t->proc != NULL)
        g_subprocess_send_signal (t->proc, r->interrupted ? SIGKILL : SIGTERM);
    }
  if (!r->interrupted)
    r->interrupted = signum;
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sigint (gpointer data)
{
  return on_signal (data, SIGINT);
}

static gboolean
on_sigterm (gpointer data)
{
  return on_signal (data, SIGTERM);
}

static char *
find_self (const char *argv0)
{
  g_autofree char *link = g_file_read_link ("/proc/self/exe", NULL);
  if (link != NULL)
    return g_steal_pointer (&link);
  if (strchr (argv0, '/') != NULL)
    return g_canonicalize_filename (argv0, NULL);
  return g_find_program_in_path (argv0);
}

static int
run_suite (char **args, char **filters, guint shard, guint shards, guint jobs,
           const char *junit, const char *keep, const char *argv0)
{
  g_autoptr (GError) error = NULL;
  Runner runner = { .jobs = jobs, .keep = (char *) keep };
  Runner *r = &runner;

  r->tests = g_ptr_array_new_with_free_func (test_free);
  if (!find_tests (r->tests, args, &error))
    {
      report_error ("%s", error->message);
      g_ptr_array_unref (r->tests);
      return EXIT_USAGE;
    }
  select_tests (r->tests, filters, shard, shards);
  r->self = find_self (argv0);
  r->tmp = g_dir_make_tmp ("pipe-harness-test-XXXXXX", &error);
  if (r->self == NULL || r->tmp == NULL)
    {
      report_error ("%s", r->self == NULL ? "cannot find this program's own file"
                                          : error->message);
      g_ptr_array_unref (r->tests);
      g_free (r->self);
      return EXIT_USAGE;
    }
  r->progress = isatty (STDOUT_FILENO);
  r->loop = g_main_loop_new (NULL, FALSE);
  r->started_us = g_get_monotonic_time ();
  r->signal_watches[0] = g_unix_signal_add (SIGINT, on_sigint, r);
  r->signal_watches[1] = g_unix_signal_add (SIGTERM, on_sigterm, r);

  printf ("TAP version 14\n");
  if (r->tests->len == 0)
    printf ("1..0 # SKIP no test file matched\n");
  else
    printf ("1..%u\n", r->tests->len);
  fflush (stdout);
  start_more (r);
  if (r->running > 0)
    g_main_loop_run (r->loop);

  int status = r->interrupted ? 128 + r->interrupted : r->failed > 0 ? 1 : 0;
  if (junit != NULL && !write_junit (r, junit, &error))
    {
      report_error ("--junit: %s", error->message);
      status = status == 0 ? 1 : status;
    }
  for (guint i = 0; i < G_N_ELEMENTS (r->signal_watches); i++)
    g_source_remove (r->signal_watches[i]);
  remove_tree (r->tmp);
  g_free (r->tmp);
  g_free (r->self);
  g_main_loop_unref (r->loop);
  g_ptr_array_unref (r->tests);
  return status;
}

int
test_runner_main (int argc, char **argv)
{
  g_auto (GStrv) args = NULL;
  g_auto (GStrv) filters = NULL;
  g_autofree char *junit = NULL;
  g_autofree char *keep = NULL;
  g_autofree char *shard_text = NULL;
  g_autofree char *run_file = NULL;
  g_autofree char *transcript = NULL;
  int jobs = 0;
  guint shard = 1, shards = 1;
  g_autoptr (GError) error = NULL;
  const char *argv0 = argv[0];
  const GOptionEntry entries[] = {
    { "jobs", 'j', 0, G_OPTION_ARG_INT, &jobs,
      "Run N tests at once (default: the number of CPUs)", "N" },
    { "filter", 0, 0, G_OPTION_ARG_STRING_ARRAY, &filters,
      "Run only the tests whose name matches GLOB (repeatable)", "GLOB" },
    { "shard", 0, 0, G_OPTION_ARG_STRING, &shard_text,
      "Run only the K-th of N disjoint parts of the suite", "K/N" },
    { "junit", 0, 0, G_OPTION_ARG_FILENAME, &junit,
      "Also write the results as JUnit XML to FILE", "FILE" },
    { "keep", 0, 0, G_OPTION_ARG_FILENAME, &keep,
      "Keep each failed test's transcript in DIR, as NAME.log", "DIR" },
    { "run-one", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &run_file, NULL, NULL },
    { "transcript", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &transcript, NULL, NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &args, NULL, "FILE|DIR…" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);

  g_set_prgname ("pipe-harness test");
  g_option_context_set_summary (context,
    "Run every .pht test file given, or found in the folders given, each with\n"
    "its own children, and print the results as TAP version 14.");
  g_option_context_set_description (context,
    "Exit status: 0 all passed; 1 some failed; 2 bad usage;\n"
    "128+N when signal N interrupted the run (130 for Ctrl-C).\n"
    "\n"
    "See TEST FILES in pipe-harness(1).");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      report_error ("test: %s (see pipe-harness test --help)", error->message);
      return EXIT_USAGE;
    }
  if (run_file != NULL)
    return run_one (run_file, transcript);
  if (args == NULL)
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "no test FILE or DIR given");
  else if (jobs < 0)
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "-j: '%d' is not a number of tests at once (1 or more)", jobs);
  else if (shard_text != NULL)
    parse_shard (shard_text, &shard, &shards, &error);
  if (error != NULL)
    {
      report_error ("test: %s (see pipe-harness test --help)", error->message);
      return EXIT_USAGE;
    }
  if (jobs == 0)
    jobs = g_get_num_processors ();
  return run_suite (args, filters, shard, shards, jobs, junit, keep, argv0);
}
