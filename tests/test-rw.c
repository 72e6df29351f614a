/* Tests of part3-rw: write-to-pipe and read-from-pipe over a real FIFO, in
 * both opening orders; each says the pipe is open only once open() has
 * returned; --create; a regular file; bad input. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define WAIT_MS 10000

static TuProc *
start_in (const char *dir, const char *const *argv)
{
  return tu_proc_start_full (argv, dir, NULL, TU_PROC_DEFAULT);
}

/* Whichever opens first waits, and says "pipe is open" only after the
 * other has come. */
static void
round_trip (gboolean reader_first)
{
  g_autofree char *dir = tu_tmpdir_new ();
  const char *reader_argv[] = { READ_FROM_PIPE, "--create", NULL };
  const char *writer_argv[] = { WRITE_TO_PIPE, "--create", "--message", "hi there", NULL };
  g_autoptr (TuProc) first = start_in (dir, reader_first ? reader_argv : writer_argv);

  g_assert_true (tu_proc_wait_stdout (first, "opening my_pipe", WAIT_MS));
  tu_sleep_ms (300);
  g_assert_null (strstr (tu_proc_stdout (first)->str, "pipe is open"));

  g_autoptr (TuProc) second = start_in (dir, reader_first ? writer_argv : reader_argv);
  TuProc *reader = reader_first ? first : second;
  TuProc *writer = reader_first ? second : first;
  g_assert_cmpint (tu_proc_wait (writer, WAIT_MS), ==, 0);
  g_assert_cmpint (tu_proc_wait (reader, WAIT_MS), ==, 0);
  g_assert_cmpstr (tu_proc_stdout (writer)->str, ==,
                   "opening my_pipe for writing...\npipe is open\nwrote: hi there\n");
  g_assert_cmpstr (tu_proc_stdout (reader)->str, ==,
                   "opening my_pipe for reading...\npipe is open\nline 1: hi there\n"
                   "end of file after 1 line\n");
  tu_tmpdir_remove (dir);
}

static void
test_reader_first (void)
{
  round_trip (TRUE);
}

static void
test_writer_first (void)
{
  round_trip (FALSE);
}

/* Several lines, then end-of-file when the writer closes. */
static void
test_read_lines (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *fifo = g_build_filename (dir, "my_pipe", NULL);
  tu_mkfifo (fifo);
  const char *argv[] = { READ_FROM_PIPE, fifo, NULL };
  g_autoptr (TuProc) reader = start_in (dir, argv);

  int fd = tu_fifo_open_write (fifo, WAIT_MS);
  g_assert_true (tu_proc_wait_stdout (reader, "pipe is open\n", WAIT_MS));
  g_assert_cmpint (write (fd, "alpha\nbeta\n", 11), ==, 11);
  g_assert_true (tu_proc_wait_stdout (reader, "line 2: beta\n", WAIT_MS));
  g_assert_cmpint (write (fd, "gamma", 5), ==, 5);
  close (fd);
  g_assert_cmpint (tu_proc_wait (reader, WAIT_MS), ==, 0);
  g_assert_true (g_str_has_suffix (tu_proc_stdout (reader)->str,
                                   "line 3: gamma\nend of file after 3 lines\n"));
  tu_tmpdir_remove (dir);
}

/* A regular file takes the message at once, replacing what it held. */
static void
test_regular_file (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *file = g_build_filename (dir, "notes.txt", NULL);
  g_autofree char *content = NULL;
  g_file_set_contents (file, "old content\n", -1, NULL);
  const char *argv[] = { WRITE_TO_PIPE, file, "--message", "new", NULL };
  g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, NULL, NULL), ==, 0);
  g_assert_true (g_file_get_contents (file, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "new\n");
  tu_tmpdir_remove (dir);
}

/* Without --create a missing path is an error and nothing is made. */
static void
test_missing_path (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  const char *programs[] = { WRITE_TO_PIPE, READ_FROM_PIPE };
  for (guint i = 0; i < 2; i++)
    {
      const char *argv[] = { programs[i], missing, NULL };
      g_autofree char *err = NULL;
      g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, NULL, &err), ==, 1);
      g_assert_true (g_str_has_suffix (err, ": No such file or directory (--create makes it a FIFO)\n"));
      g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
    }
  tu_tmpdir_remove (dir);
}

static void
test_usage (void)
{
  const char *programs[] = { WRITE_TO_PIPE, READ_FROM_PIPE };
  for (guint i = 0; i < 2; i++)
    {
      const char *bad_option[] = { programs[i], "--bogus", NULL };
      const char *two_paths[] = { programs[i], "a", "b", NULL };
      g_autofree char *err1 = NULL, *err2 = NULL;
      g_assert_cmpint (tu_run (bad_option, NULL, WAIT_MS, NULL, &err1), ==, 2);
      g_assert_cmpint (tu_run (two_paths, NULL, WAIT_MS, NULL, &err2), ==, 2);
      g_assert_true (g_str_has_suffix (err1, ": Unknown option --bogus (see --help)\n"));
      g_assert_true (g_str_has_suffix (err2, ": one PATH at most (see --help)\n"));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rw/round-trip/reader-first", test_reader_first);
  g_test_add_func ("/rw/round-trip/writer-first", test_writer_first);
  g_test_add_func ("/rw/read-lines", test_read_lines);
  g_test_add_func ("/rw/regular-file", test_regular_file);
  g_test_add_func ("/rw/missing-path", test_missing_path);
  g_test_add_func ("/rw/usage", test_usage);
  return g_test_run ();
}
