/* test-mini-harness: the lesson's smallest harness, driven with real
 * children (small sh programs) and its real FIFOs: marked lines from both
 * children, input through each FIFO from writers one after another, the end
 * when a child ends (the other stopped, both outputs read to the end, the
 * FIFOs removed), and usage errors. */
#include <glib/gstdio.h>
#include <signal.h>
#include <unistd.h>

#include "testutil.h"

#define TIMEOUT_MS 10000

/* A child that answers each line, and exits 3 on "exit". */
#define ANSWERER "sh -c 'while read l; do echo \"got $l\"; [ \"$l\" = exit ] && exit 3; done'"

static void
write_fifo (const char *path, const char *text)
{
  int fd = tu_fifo_open_write (path, TIMEOUT_MS);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, text, strlen (text)), ==, (gssize) strlen (text));
  close (fd);
}

/* Each child's lines, stdout and stderr, come marked with its name; a
 * signal ends the run with 130 and removes the FIFOs of the folder it made. */
static void
test_marked_lines (void)
{
  g_autoptr (TuProc) p = tu_proc_start (MINI_HARNESS,
                                        "sh -c 'echo from-a; exec cat'",
                                        "sh -c 'echo from-b >&2; exec cat'", NULL);
  g_assert_true (tu_proc_wait_stdout (p, "A: from-a\n", TIMEOUT_MS));
  g_assert_true (tu_proc_wait_stdout (p, "B: from-b\n", TIMEOUT_MS));
  g_assert_true (tu_proc_wait_stderr (p, "B reads its input from ", TIMEOUT_MS));
  const char *err = tu_proc_stderr (p)->str;
  const char *at = strstr (err, "A reads its input from ") + strlen ("A reads its input from ");
  g_autofree char *fifo_a = g_strndup (at, strchr (at, '\n') - at);
  g_autofree char *dir = g_path_get_dirname (fifo_a);
  g_assert_true (g_file_test (fifo_a, G_FILE_TEST_EXISTS));
  tu_proc_signal (p, SIGTERM);
  g_assert_cmpint (tu_proc_wait (p, TIMEOUT_MS), ==, 130);
  g_assert_false (g_file_test (fifo_a, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

/* Writers come and go on each FIFO: every line arrives, in order.  When A
 * exits, B is stopped, the run exits with A's status, and the FIFOs go
 * while the folder given stays. */
static void
test_fifo_writers (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *fifo_a = g_build_filename (dir, "A", NULL);
  g_autofree char *fifo_b = g_build_filename (dir, "B", NULL);
  g_autoptr (TuProc) p = tu_proc_start (MINI_HARNESS, "--fifo-dir", dir, ANSWERER, "cat", NULL);
  g_assert_true (tu_proc_wait_stderr (p, "B reads its input from ", TIMEOUT_MS));
  write_fifo (fifo_a, "one\n");
  g_assert_true (tu_proc_wait_stdout (p, "A: got one\n", TIMEOUT_MS));
  write_fifo (fifo_a, "two\n");
  g_assert_true (tu_proc_wait_stdout (p, "A: got two\n", TIMEOUT_MS));
  write_fifo (fifo_b, "bee\n");
  write_fifo (fifo_b, "second bee\n");
  g_assert_true (tu_proc_wait_stdout (p, "B: bee\nB: second bee\n", TIMEOUT_MS));
  write_fifo (fifo_a, "exit\n");
  g_assert_cmpint (tu_proc_wait (p, TIMEOUT_MS), ==, 3);
  g_assert_nonnull (strstr (tu_proc_stdout (p)->str, "A: got exit\n"));
  g_assert_nonnull (strstr (tu_proc_stderr (p)->str, "B ended (status 143)"));
  g_assert_false (g_file_test (fifo_a, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (fifo_b, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  tu_tmpdir_remove (dir);
}

/* A child that exits: everything it printed is shown, and so are the last
 * words the other says when it is stopped. */
static void
test_end_drains (void)
{
  g_autoptr (TuProc) p = tu_proc_start (
    MINI_HARNESS, "seq 20000",
    "sh -c 'trap \"echo last words; exit 0\" TERM; while :; do sleep 0.05; done'", NULL);
  g_assert_cmpint (tu_proc_wait (p, TIMEOUT_MS), ==, 0);
  const char *out = tu_proc_stdout (p)->str;
  g_assert_cmpuint (tu_count (out, "\nA: "), ==, 19999);
  g_assert_nonnull (strstr (out, "A: 20000\n"));
  g_assert_nonnull (strstr (out, "B: last words\n"));
}

static void
test_usage (void)
{
  static const struct {
    const char *args[4];
    int status;
    const char *message;
  } cases[] = {
    { { NULL }, 2, "usage: mini-harness [--fifo-dir DIR] CMD_A CMD_B\n" },
    { { "cat" }, 2, "usage: " },
    { { "cat", "cat", "cat" }, 2, "usage: " },
    { { "--fifo-dir", "/nonexistent/folder", "cat", "cat" }, 2, "/nonexistent/folder/A: " },
    { { "cat '", "cat" }, 2, "mini-harness: " },
    { { "/nonexistent/program", "cat" }, 127, "/nonexistent/program" },
    { { "cat", "/nonexistent/program" }, 127, "/nonexistent/program" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *argv[6] = { MINI_HARNESS };
      for (guint j = 0; j < 4 && cases[i].args[j] != NULL; j++)
        argv[j + 1] = cases[i].args[j];
      g_autofree char *out = NULL, *err = NULL;
      int status = tu_run (argv, NULL, TIMEOUT_MS, &out, &err);
      g_assert_cmpint (status, ==, cases[i].status);
      g_assert_nonnull (strstr (err, cases[i].message));
      g_assert_cmpstr (out, ==, "");
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mini-harness/marked-lines", test_marked_lines);
  g_test_add_func ("/mini-harness/fifo-writers", test_fifo_writers);
  g_test_add_func ("/mini-harness/end-drains", test_end_drains);
  g_test_add_func ("/mini-harness/usage", test_usage);
  return g_test_run ();
}
