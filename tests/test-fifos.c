/* Tests of part2-fifos: fifo-intro makes and describes FIFOs, its write
 * and read block in open() until the other end comes, read stops at
 * end-of-file when the last writer closes, and bad input is refused. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define WAIT_MS 10000

static char *
path_in (const char *dir, const char *name)
{
  return g_build_filename (dir, name, NULL);
}

static void
test_make (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *fifo = path_in (dir, "f");
  g_autofree char *open_fifo = path_in (dir, "g");
  g_autofree char *out = NULL, *err = NULL;
  GStatBuf st;

  const char *argv[] = { FIFO_INTRO, "make", fifo, NULL };
  g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, &out, &err), ==, 0);
  g_assert_cmpint (g_lstat (fifo, &st), ==, 0);
  g_assert_true (S_ISFIFO (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_assert_true (g_str_has_prefix (out, "prw------- 1 "));
  g_assert_true (g_str_has_suffix (out, fifo) || g_str_has_suffix (out, "/f\n"));

  const char *with_mode[] = { FIFO_INTRO, "make", open_fifo, "--mode", "0644", NULL };
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (tu_run (with_mode, NULL, WAIT_MS, &out, NULL), ==, 0);
  g_assert_cmpint (g_lstat (open_fifo, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0644);
  g_assert_true (g_str_has_prefix (out, "prw-r--r-- "));

  /* Making it again fails and leaves it as it was. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, NULL, &err), ==, 1);
  g_autofree char *expected = g_strdup_printf ("fifo-intro: mkfifo %s: File exists\n", fifo);
  g_assert_cmpstr (err, ==, expected);
  tu_tmpdir_remove (dir);
}

static void
test_info (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *fifo = path_in (dir, "f");
  g_autofree char *file = path_in (dir, "file");
  g_autofree char *missing = path_in (dir, "missing");
  tu_mkfifo (fifo);
  g_file_set_contents (file, "x", -1, NULL);
  g_chmod (file, 0640);

  static const struct {
    const char *name;
    const char *said;
  } cases[] = {
    { "f", ": FIFO (named pipe), mode 0600\n" },
    { "file", ": regular file, mode 0640\n" },
    { "", ": directory, mode 0700\n" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = path_in (dir, cases[i].name);
      g_autofree char *out = NULL;
      const char *argv[] = { FIFO_INTRO, "info", path, NULL };
      g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, &out, NULL), ==, 0);
      g_autofree char *expected = g_strconcat (path, cases[i].said, NULL);
      g_assert_cmpstr (out, ==, expected);
    }
  g_autofree char *err = NULL;
  const char *argv[] = { FIFO_INTRO, "info", missing, NULL };
  g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, NULL, &err), ==, 1);
  g_autofree char *expected = g_strdup_printf ("fifo-intro: %s: No such file or directory\n", missing);
  g_assert_cmpstr (err, ==, expected);
  tu_tmpdir_remove (dir);
}

/* write waits in open() until a reader comes, then delivers its line. */
static void
test_write_blocks_until_reader (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *fifo = path_in (dir, "f");
  tu_mkfifo (fifo);

  g_autoptr (TuProc) writer = tu_proc_start (FIFO_INTRO, "write", fifo, "hello there", NULL);
  g_assert_true (tu_proc_wait_stderr (writer, "waits until a reader", WAIT_MS));
  tu_sleep_ms (300);
  g_assert_true (tu_proc_running (writer));
  g_assert_null (strstr (tu_proc_stderr (writer)->str, "open returned"));

  int fd = tu_fifo_open_read (fifo, TRUE);
  g_autoptr (GString) data = g_string_new (NULL);
  g_autoptr (GArray) chunks = g_array_new (FALSE, FALSE, sizeof (TuChunk));
  g_assert_true (tu_read_until_eof (fd, WAIT_MS, data, chunks));
  close (fd);
  g_assert_cmpstr (data->str, ==, "hello there\n");
  g_assert_cmpint (tu_proc_wait (writer, WAIT_MS), ==, 0);
  /* It said how long it waited: at least the 300 ms above. */
  const char *said = strstr (tu_proc_stderr (writer)->str, "open returned after ");
  g_assert_nonnull (said);
  g_assert_cmpint (g_ascii_strtoll (said + strlen ("open returned after "), NULL, 10), >=, 250);
  tu_tmpdir_remove (dir);
}

/* read waits for a writer, prints all of several writers' data, and stops
 * at end-of-file once the last writer has closed. */
static void
test_read_until_last_writer (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *fifo = path_in (dir, "f");
  tu_mkfifo (fifo);

  g_autoptr (TuProc) reader = tu_proc_start (FIFO_INTRO, "read", fifo, NULL);
  g_assert_true (tu_proc_wait_stderr (reader, "waits until a writer", WAIT_MS));
  tu_sleep_ms (200);
  g_assert_null (strstr (tu_proc_stderr (reader)->str, "open returned"));

  int first = tu_fifo_open_write (fifo, WAIT_MS);
  int second = tu_fifo_open_write (fifo, WAIT_MS);
  g_assert_cmpint (write (first, "one\n", 4), ==, 4);
  g_assert_cmpint (write (second, "two\n", 4), ==, 4);
  close (first);
  g_assert_true (tu_proc_wait_stdout (reader, "one\ntwo\n", WAIT_MS));
  tu_sleep_ms (200);
  g_assert_true (tu_proc_running (reader)); /* one writer is still there */
  g_assert_cmpint (write (second, "three\n", 6), ==, 6);
  close (second);
  g_assert_cmpint (tu_proc_wait (reader, WAIT_MS), ==, 0);
  g_assert_cmpstr (tu_proc_stdout (reader)->str, ==, "one\ntwo\nthree\n");
  g_assert_nonnull (strstr (tu_proc_stderr (reader)->str, "end-of-file"));
  tu_tmpdir_remove (dir);
}

/* Writers at once: each line, written whole (shorter than PIPE_BUF),
 * arrives whole and exactly once. */
static void
test_concurrent_writers (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *fifo = path_in (dir, "f");
  TuProc *writers[8];
  tu_mkfifo (fifo);

  g_autoptr (TuProc) reader = tu_proc_start (FIFO_INTRO, "read", fifo, NULL);
  int keep = tu_fifo_open_write (fifo, WAIT_MS); /* no end-of-file between writers */
  for (int w = 0; w < 8; w++)
    {
      g_autofree char *message = g_strdup_printf ("writer %d says %0200d", w, w);
      writers[w] = tu_proc_start (FIFO_INTRO, "write", fifo, message, NULL);
    }
  for (int w = 0; w < 8; w++)
    {
      g_assert_cmpint (tu_proc_wait (writers[w], WAIT_MS), ==, 0);
      tu_proc_free (writers[w]);
    }
  close (keep);
  g_assert_cmpint (tu_proc_wait (reader, WAIT_MS), ==, 0);
  for (int w = 0; w < 8; w++)
    {
      g_autofree char *line = g_strdup_printf ("writer %d says %0200d\n", w, w);
      g_assert_cmpuint (tu_count (tu_proc_stdout (reader)->str, line), ==, 1);
    }
  g_assert_cmpuint (tu_count (tu_proc_stdout (reader)->str, "\n"), ==, 8);
  tu_tmpdir_remove (dir);
}

/* write and read refuse what is not a FIFO, and leave it alone. */
static void
test_not_a_fifo (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *file = path_in (dir, "file");
  g_file_set_contents (file, "keep me\n", -1, NULL);

  const char *write_argv[] = { FIFO_INTRO, "write", file, "x", NULL };
  const char *read_argv[] = { FIFO_INTRO, "read", file, NULL };
  g_autofree char *err1 = NULL, *err2 = NULL, *content = NULL;
  g_assert_cmpint (tu_run (write_argv, NULL, WAIT_MS, NULL, &err1), ==, 1);
  g_assert_cmpint (tu_run (read_argv, NULL, WAIT_MS, NULL, &err2), ==, 1);
  g_autofree char *expected = g_strdup_printf ("fifo-intro write: %s: not a FIFO (regular file)\n", file);
  g_assert_cmpstr (err1, ==, expected);
  g_assert_true (g_str_has_suffix (err2, ": not a FIFO (regular file)\n"));
  g_assert_true (g_file_get_contents (file, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "keep me\n");
  tu_tmpdir_remove (dir);
}

static void
test_usage (void)
{
  static const struct {
    const char *args[4];
    const char *message;
  } cases[] = {
    { { NULL }, "fifo-intro: which sub-command? make, info, write, read or demo (see --help)\n" },
    { { "frob", NULL }, "fifo-intro: unknown sub-command 'frob' (make, info, write, read, demo)\n" },
    { { "write", "x", NULL }, "fifo-intro: usage: fifo-intro write PATH MESSAGE (see --help)\n" },
    { { "make", "x", "--mode", "9" }, "fifo-intro: --mode 9: not an octal mode like 0600\n" },
    { { "--bogus", NULL }, "fifo-intro: Unknown option --bogus (see --help)\n" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *argv[6] = { FIFO_INTRO };
      g_autofree char *err = NULL;
      memcpy (argv + 1, cases[i].args, sizeof cases[i].args);
      g_assert_cmpint (tu_run (argv, NULL, WAIT_MS, NULL, &err), ==, 2);
      g_assert_cmpstr (err, ==, cases[i].message);
    }
  const char *help[] = { FIFO_INTRO, "--help", NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (tu_run (help, NULL, WAIT_MS, &out, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "demo [--delay-ms N]"));
}

/* The demo needs nothing, narrates, and cleans up after itself. */
static void
test_demo (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *tmpdir_env = g_strdup_printf ("TMPDIR=%s", dir);
  const char *env[] = { tmpdir_env, NULL };
  const char *argv[] = { FIFO_INTRO, "demo", "--delay-ms", "100", NULL };
  g_autoptr (TuProc) demo = tu_proc_start_full (argv, NULL, env, TU_PROC_DEFAULT);

  g_assert_cmpint (tu_proc_wait (demo, WAIT_MS), ==, 0);
  g_assert_nonnull (strstr (tu_proc_stdout (demo)->str, "hello through the FIFO\n"));
  const char *err = tu_proc_stderr (demo)->str;
  g_assert_nonnull (strstr (err, "the reader's open() is blocked"));
  g_assert_nonnull (strstr (err, "fifo-intro read: open returned after "));
  g_assert_nonnull (strstr (err, "fails: No such device or address"));
  g_autoptr (GDir) left = g_dir_open (dir, 0, NULL);
  g_assert_null (g_dir_read_name (left));
  tu_tmpdir_remove (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fifos/make", test_make);
  g_test_add_func ("/fifos/info", test_info);
  g_test_add_func ("/fifos/write/blocks-until-reader", test_write_blocks_until_reader);
  g_test_add_func ("/fifos/read/until-last-writer", test_read_until_last_writer);
  g_test_add_func ("/fifos/read/concurrent-writers", test_concurrent_writers);
  g_test_add_func ("/fifos/not-a-fifo", test_not_a_fifo);
  g_test_add_func ("/fifos/usage", test_usage);
  g_test_add_func ("/fifos/demo", test_demo);
  return g_test_run ();
}
