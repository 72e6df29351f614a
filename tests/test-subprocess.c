/* Tests of part5-subprocess: say-my-name greets and stops, and stalls on
 * a pipe unless line-buffered; run-say-my-name's five modes, with the
 * FIFO ones over real FIFOs and constant mode outliving many writers. */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define WAIT_MS 10000
#define PROMPT "What is your name?\n"

static void
test_say_my_name (void)
{
  const char *argv[] = { SAY_MY_NAME, NULL };
  g_autofree char *out = NULL, *at_eof = NULL;
  g_assert_cmpint (tu_run (argv, "Ann\n\nBob\nexit\nCarl\n", WAIT_MS, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, PROMPT "Hello, Ann!\n" PROMPT PROMPT "Hello, Bob!\n" PROMPT "Goodbye!\n");
  g_assert_cmpint (tu_run (argv, "Dee\n", WAIT_MS, &at_eof, NULL), ==, 0);
  g_assert_cmpstr (at_eof, ==, PROMPT "Hello, Dee!\n" PROMPT "Goodbye!\n");
}

/* On a pipe, stdio holds the greeting until exit; --line-buffered not. */
static void
test_say_my_name_buffering (void)
{
  g_autoptr (TuProc) plain = tu_proc_start (SAY_MY_NAME, NULL);
  g_autoptr (TuProc) line = tu_proc_start (SAY_MY_NAME, "--line-buffered", NULL);
  tu_proc_write (plain, "Ann\n");
  tu_proc_write (line, "Ann\n");
  g_assert_true (tu_proc_wait_stdout (line, "Hello, Ann!\n", WAIT_MS));
  tu_sleep_ms (200);
  g_assert_cmpstr (tu_proc_stdout (plain)->str, ==, "");
  tu_proc_close_stdin (plain);
  tu_proc_close_stdin (line);
  g_assert_cmpint (tu_proc_wait (plain, WAIT_MS), ==, 0);
  g_assert_cmpint (tu_proc_wait (line, WAIT_MS), ==, 0);
  g_assert_cmpstr (tu_proc_stdout (plain)->str, ==, tu_proc_stdout (line)->str);
}

static void
test_scripted (void)
{
  const char *argv[] = { RUN_SAY_MY_NAME, "scripted", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==,
                   "=== the child's whole output, read after it exited ===\n"
                   PROMPT "Hello, Alice!\n" PROMPT "Hello, Bob!\n" PROMPT "Hello, Carol!\n"
                   PROMPT "Goodbye!\n=== the child exited with status 0 ===\n");
}

static void
test_mixed (void)
{
  const char *argv[] = { RUN_SAY_MY_NAME, "mixed", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (tu_run (argv, "Dave\nexit\n", WAIT_MS, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, PROMPT "Hello, Alice!\n" PROMPT "Hello, Bob!\n" PROMPT
                   "Hello, Carol!\n" PROMPT "Hello, Dave!\n" PROMPT "Goodbye!\n");
}

static void
test_inherit (void)
{
  const char *argv[] = { RUN_SAY_MY_NAME, "inherit", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (tu_run (argv, "Eve\n", WAIT_MS, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, PROMPT "Hello, Eve!\n" PROMPT "Goodbye!\n");
}

static void
test_child_option (void)
{
  const char *argv[] = { RUN_SAY_MY_NAME, "scripted", "--child", "tr a-z A-Z", NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "\nALICE\nBOB\nCAROL\n"));

  const char *missing[] = { RUN_SAY_MY_NAME, "scripted", "--child", "no-such-program-here", NULL };
  g_assert_cmpint (tu_run (missing, NULL, WAIT_MS, NULL, &err), ==, 1);
  g_assert_true (g_str_has_prefix (err, "run-say-my-name: cannot start no-such-program-here: "));
}

/* Two fresh FIFOs in dir, and run-say-my-name in mode over them. */
static TuProc *
start_with_fifos (const char *mode, const char *dir, char **in, char **out)
{
  *in = g_build_filename (dir, "in", NULL);
  *out = g_build_filename (dir, "out", NULL);
  tu_mkfifo (*in);
  tu_mkfifo (*out);
  const char *argv[] = { RUN_SAY_MY_NAME, mode, "--input", *in, "--output", *out, NULL };
  return tu_proc_start_full (argv, NULL, NULL, TU_PROC_DEFAULT);
}

/* What comes out of fd until end-of-file; fd is closed. */
static char *
read_all (int fd)
{
  GString *said = g_string_new (NULL);
  g_autoptr (GArray) chunks = g_array_new (FALSE, FALSE, sizeof (TuChunk));
  g_assert_true (tu_read_until_eof (fd, WAIT_MS, said, chunks));
  close (fd);
  return g_string_free (said, FALSE);
}

static void
write_fifo (const char *path, const char *text)
{
  int fd = tu_fifo_open_write (path, WAIT_MS);
  g_assert_cmpint (write (fd, text, strlen (text)), ==, (gssize) strlen (text));
  close (fd);
}

/* The child's stdin and stdout are the FIFOs: it ends when the writer
 * closes. */
static void
test_external (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *in = NULL, *out = NULL;
  g_autoptr (TuProc) run = start_with_fifos ("external", dir, &in, &out);

  write_fifo (in, "Eve\nFay\n");
  g_autofree char *said = read_all (tu_fifo_open_read (out, TRUE));
  g_assert_cmpint (tu_proc_wait (run, WAIT_MS), ==, 0);
  g_assert_cmpstr (said, ==, PROMPT "Hello, Eve!\n" PROMPT "Hello, Fay!\n" PROMPT "Goodbye!\n");
  tu_tmpdir_remove (dir);
}

/* Twenty writers one after another: the child hears them all, in order,
 * and answers each at once on the output FIFO. */
static void
test_constant (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *in = NULL, *out = NULL;
  g_autoptr (TuProc) run = start_with_fifos ("constant", dir, &in, &out);
  int out_fd = tu_fifo_open_read (out, TRUE);
  g_assert_true (tu_proc_wait_stderr (run, "passing whatever is written", WAIT_MS));

  g_autoptr (GString) expected = g_string_new (PROMPT);
  for (int i = 0; i < 20; i++)
    {
      g_autofree char *name = g_strdup_printf ("Name%d\n", i);
      write_fifo (in, name);
      g_string_append_printf (expected, "Hello, Name%d!\n" PROMPT, i);
    }
  write_fifo (in, "exit\n");
  g_string_append (expected, "Goodbye!\n");

  g_autofree char *said = read_all (out_fd);
  g_assert_cmpint (tu_proc_wait (run, WAIT_MS), ==, 0);
  g_assert_cmpstr (said, ==, expected->str);
  tu_tmpdir_remove (dir);
}

/* On SIGINT constant mode closes the child's stdin; the child says goodbye. */
static void
test_constant_sigint (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *in = NULL, *out = NULL;
  g_autoptr (TuProc) run = start_with_fifos ("constant", dir, &in, &out);
  int out_fd = tu_fifo_open_read (out, TRUE);
  g_assert_true (tu_proc_wait_stderr (run, "passing whatever is written", WAIT_MS));
  tu_proc_signal (run, SIGINT);
  g_autofree char *said = read_all (out_fd);
  g_assert_cmpint (tu_proc_wait (run, WAIT_MS), ==, 0);
  g_assert_cmpstr (said, ==, PROMPT "Goodbye!\n");
  tu_tmpdir_remove (dir);
}

static void
test_usage (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *file = g_build_filename (dir, "file", NULL);
  g_file_set_contents (file, "", -1, NULL);
  static const char *const no_fifo = "run-say-my-name: this mode needs --input FIFO (see --help)\n";
  const struct {
    const char *argv[7];
    int status;
    const char *message;
  } cases[] = {
    { { RUN_SAY_MY_NAME, NULL }, 2, "run-say-my-name: which MODE? inherit, scripted, mixed, external or constant\n" },
    { { RUN_SAY_MY_NAME, "sideways", NULL }, 2, "run-say-my-name: unknown MODE 'sideways' (inherit, scripted, mixed, external, constant)\n" },
    { { RUN_SAY_MY_NAME, "external", NULL }, 2, no_fifo },
    { { RUN_SAY_MY_NAME, "constant", "--input", file, "--output", file, NULL }, 1, ": not a FIFO\n" },
    { { RUN_SAY_MY_NAME, "--bogus", NULL }, 2, "run-say-my-name: Unknown option --bogus (see --help)\n" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;
      g_assert_cmpint (tu_run (cases[i].argv, NULL, WAIT_MS, NULL, &err), ==, cases[i].status);
      g_assert_true (g_str_has_suffix (err, cases[i].message));
    }
  tu_tmpdir_remove (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/one-child/say-my-name/greets", test_say_my_name);
  g_test_add_func ("/one-child/say-my-name/buffering", test_say_my_name_buffering);
  g_test_add_func ("/one-child/scripted", test_scripted);
  g_test_add_func ("/one-child/mixed", test_mixed);
  g_test_add_func ("/one-child/inherit", test_inherit);
  g_test_add_func ("/one-child/child-option", test_child_option);
  g_test_add_func ("/one-child/external", test_external);
  g_test_add_func ("/one-child/constant/many-writers", test_constant);
  g_test_add_func ("/one-child/constant/sigint", test_constant_sigint);
  g_test_add_func ("/one-child/usage", test_usage);
  return g_test_run ();
}
