/* Tests of part4-buffers: slow-writer's modes as an independent reader
 * sees them (bytes one by one, a line at a time, all at the end, in
 * chunks), slow-reader showing or holding bytes, and buffer-lab's chart. */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define WAIT_MS 10000
#define DELAY_MS 60
#define DELAY "60"

/* Runs slow-writer in mode on a FIFO that this test reads, and returns what
 * arrived, grouped in bursts: reads less than half a delay apart. */
static GPtrArray *
bursts_of (const char *mode, const char *message)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *fifo = g_build_filename (dir, "f", NULL);
  g_autoptr (GString) data = g_string_new (NULL);
  g_autoptr (GArray) chunks = g_array_new (FALSE, FALSE, sizeof (TuChunk));
  GPtrArray *bursts = g_ptr_array_new_with_free_func (g_free);

  tu_mkfifo (fifo);
  int fd = tu_fifo_open_read (fifo, TRUE);
  g_autoptr (TuProc) writer = tu_proc_start (SLOW_WRITER, fifo, "--message", message,
                                             "--delay-ms", DELAY, "--buffering", mode, NULL);
  g_assert_true (tu_read_until_eof (fd, WAIT_MS, data, chunks));
  close (fd);
  g_assert_cmpint (tu_proc_wait (writer, WAIT_MS), ==, 0);
  g_assert_cmpstr (data->str, ==, message);

  gsize start = 0;
  for (guint i = 0; i < chunks->len; i++)
    {
      TuChunk *c = &g_array_index (chunks, TuChunk, i);
      gboolean last = i + 1 == chunks->len;
      if (last || g_array_index (chunks, TuChunk, i + 1).at_us - c->at_us > DELAY_MS * 1000 / 2)
        {
          g_ptr_array_add (bursts, g_strndup (data->str + start, c->end - start));
          start = c->end;
        }
    }
  tu_tmpdir_remove (dir);
  return bursts;
}

static void
assert_bursts (GPtrArray *bursts, const char *const *expected)
{
  g_autofree char *got = NULL;
  g_ptr_array_add (bursts, NULL);
  got = g_strjoinv ("|", (char **) bursts->pdata);
  g_autofree char *want = g_strjoinv ("|", (char **) expected);
  g_assert_cmpstr (got, ==, want);
}

static void
test_writer_none (void)
{
  g_autoptr (GPtrArray) bursts = bursts_of ("none", "abcdef\n");
  /* One byte per burst; a busy machine may merge a pair now and then. */
  g_assert_cmpuint (bursts->len, >=, 6);
}

static void
test_writer_line (void)
{
  g_autoptr (GPtrArray) bursts = bursts_of ("line", "ab\ncd\n");
  assert_bursts (bursts, (const char *const[]) { "ab\n", "cd\n", NULL });
}

static void
test_writer_full (void)
{
  g_autoptr (GPtrArray) bursts = bursts_of ("full", "ab\ncd\n");
  assert_bursts (bursts, (const char *const[]) { "ab\ncd\n", NULL });
}

static void
test_writer_chunks (void)
{
  g_autoptr (GPtrArray) bursts = bursts_of ("2", "ab\ncd\n");
  assert_bursts (bursts, (const char *const[]) { "ab", "\nc", "d\n", NULL });
}

/* Starts slow-reader on a FIFO and returns the writing end. */
static TuProc *
start_reader (const char *dir, int *write_fd, const char *mode, gboolean no_flush)
{
  g_autofree char *fifo = g_build_filename (dir, "f", NULL);
  tu_mkfifo (fifo);
  const char *argv[] = { SLOW_READER, fifo, "--mode", mode, no_flush ? "--no-flush" : NULL, NULL };
  TuProc *reader = tu_proc_start_full (argv, NULL, NULL, TU_PROC_DEFAULT);
  *write_fd = tu_fifo_open_write (fifo, WAIT_MS);
  g_assert_cmpint (*write_fd, >=, 0);
  return reader;
}

static void
test_reader_char_shows_partial_line (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  int fd;
  g_autoptr (TuProc) reader = start_reader (dir, &fd, "char", FALSE);
  g_assert_cmpint (write (fd, "ab", 2), ==, 2);
  g_assert_true (tu_proc_wait_stdout (reader, "ab", WAIT_MS));
  g_assert_cmpint (write (fd, "\ncd", 3), ==, 3);
  close (fd);
  g_assert_cmpint (tu_proc_wait (reader, WAIT_MS), ==, 0);
  g_assert_cmpstr (tu_proc_stdout (reader)->str, ==, "ab\ncd");
  tu_tmpdir_remove (dir);
}

static void
test_reader_line_holds_partial_line (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  int fd;
  g_autoptr (TuProc) reader = start_reader (dir, &fd, "line", FALSE);
  g_assert_cmpint (write (fd, "ab", 2), ==, 2);
  tu_sleep_ms (300);
  g_assert_cmpstr (tu_proc_stdout (reader)->str, ==, "");
  g_assert_cmpint (write (fd, "\n", 1), ==, 1);
  g_assert_true (tu_proc_wait_stdout (reader, "ab\n", WAIT_MS));
  close (fd);
  g_assert_cmpint (tu_proc_wait (reader, WAIT_MS), ==, 0);
  tu_tmpdir_remove (dir);
}

/* --no-flush: what it prints waits in its own stdout buffer (a pipe here)
 * until it exits. */
static void
test_reader_no_flush (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  int fd;
  g_autoptr (TuProc) reader = start_reader (dir, &fd, "char", TRUE);
  g_assert_cmpint (write (fd, "ab\n", 3), ==, 3);
  tu_sleep_ms (300);
  g_assert_cmpstr (tu_proc_stdout (reader)->str, ==, "");
  close (fd);
  g_assert_cmpint (tu_proc_wait (reader, WAIT_MS), ==, 0);
  g_assert_cmpstr (tu_proc_stdout (reader)->str, ==, "ab\n");
  tu_tmpdir_remove (dir);
}

/* What a pseudo-terminal's master shows within ms milliseconds. */
static char *
terminal_shows (int master, guint ms)
{
  GString *shown = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + ms * 1000;
  int left_ms;
  while ((left_ms = (int) ((deadline - g_get_monotonic_time ()) / 1000)) > 0)
    {
      struct pollfd p = { .fd = master, .events = POLLIN };
      char buf[256];
      if (poll (&p, 1, left_ms) <= 0)
        break;
      ssize_t n = read (master, buf, sizeof buf);
      if (n <= 0)
        break;
      g_string_append_len (shown, buf, n);
    }
  return g_string_free (shown, FALSE);
}

/* --no-flush with stdout on a terminal: stdio makes it line-buffered, so
 * bytes read one by one still show only when their newline comes. */
static void
test_reader_no_flush_on_terminal (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *fifo = g_build_filename (dir, "f", NULL);
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr (GError) error = NULL;

  tu_mkfifo (fifo);
  int master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_assert_cmpint (master, >=, 0);
  g_assert_cmpint (grantpt (master), ==, 0);
  g_assert_cmpint (unlockpt (master), ==, 0);
  g_subprocess_launcher_take_stdout_fd (launcher, open (ptsname (master), O_RDWR | O_NOCTTY));
  const char *argv[] = { SLOW_READER, fifo, "--mode", "char", "--no-flush", NULL };
  g_autoptr (GSubprocess) reader = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  int fd = tu_fifo_open_write (fifo, WAIT_MS);

  g_assert_cmpint (write (fd, "ab", 2), ==, 2);
  g_autofree char *before = terminal_shows (master, 300);
  g_assert_cmpstr (before, ==, "");
  g_assert_cmpint (write (fd, "\n", 1), ==, 1);
  g_autofree char *after = terminal_shows (master, 300);
  g_assert_cmpstr (after, ==, "ab\r\n"); /* the terminal shows a newline as \r\n */
  close (fd);
  for (guint waited = 0; g_subprocess_get_identifier (reader) != NULL; waited += 20)
    {
      if (waited > WAIT_MS)
        g_error ("slow-reader did not end at end-of-file");
      tu_sleep_ms (20);
    }
  g_assert_cmpint (g_subprocess_get_exit_status (reader), ==, 0);
  close (master);
  tu_tmpdir_remove (dir);
}

/* The chart: for each mode, the bytes that arrived at each tick. */
static void
test_lab_chart (void)
{
  g_autofree char *dir = tu_tmpdir_new ();
  g_autofree char *tmpdir_env = g_strdup_printf ("TMPDIR=%s", dir);
  const char *env[] = { tmpdir_env, NULL };
  const char *argv[] = { BUFFER_LAB, "--delay-ms", "25", NULL };
  g_autoptr (TuProc) lab = tu_proc_start_full (argv, NULL, env, TU_PROC_DEFAULT);
  g_assert_cmpint (tu_proc_wait (lab, WAIT_MS), ==, 0);

  static const char *const rows[] = {
    "none         1   1   1   1   1   1   1   1   1   1   1   1   .\n",
    "line         .   .   .   4   .   .   .   4   .   .   .   4   .\n",
    "full         .   .   .   .   .   .   .   .   .   .   .   .  12\n",
    "3-bytes      .   .   3   .   .   3   .   .   3   .   .   3   .\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    if (strstr (tu_proc_stdout (lab)->str, rows[i]) == NULL)
      g_error ("no row \"%s\" in:\n%s", rows[i], tu_proc_stdout (lab)->str);
  g_autoptr (GDir) left = g_dir_open (dir, 0, NULL);
  g_assert_null (g_dir_read_name (left));
  tu_tmpdir_remove (dir);
}

static void
test_usage (void)
{
  static const struct {
    const char *argv[6];
    int status;
    const char *message;
  } cases[] = {
    { { SLOW_WRITER, "/nonexistent/f", NULL }, 1, "slow-writer: open /nonexistent/f: No such file or directory\n" },
    { { SLOW_WRITER, "f", "--buffering", "lots", NULL }, 2, "slow-writer: --buffering must be none, line, full or a number of bytes from 1 to 1048576\n" },
    { { SLOW_WRITER, "f", "--message", "", NULL }, 2, "slow-writer: --message must not be empty\n" },
    { { SLOW_WRITER, NULL }, 2, "slow-writer: expected one PATH (see --help)\n" },
    { { SLOW_READER, "f", "--mode", "word", NULL }, 2, "slow-reader: --mode must be line or char\n" },
    { { SLOW_READER, NULL }, 2, "slow-reader: expected one PATH (see --help)\n" },
    { { SLOW_READER, "/nonexistent/f", NULL }, 1, "slow-reader: open /nonexistent/f: No such file or directory\n" },
    { { BUFFER_LAB, "extra", NULL }, 2, "buffer-lab: no arguments, only options (see --help)\n" },
    { { BUFFER_LAB, "--delay-ms", "0", NULL }, 2, "buffer-lab: --delay-ms must be at least 1\n" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;
      g_assert_cmpint (tu_run (cases[i].argv, NULL, WAIT_MS, NULL, &err), ==, cases[i].status);
      if (!g_str_has_suffix (err, cases[i].message))
        g_error ("expected \"%s\" at the end of:\n%s", cases[i].message, err);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/buffers/writer/none", test_writer_none);
  g_test_add_func ("/buffers/writer/line", test_writer_line);
  g_test_add_func ("/buffers/writer/full", test_writer_full);
  g_test_add_func ("/buffers/writer/chunks", test_writer_chunks);
  g_test_add_func ("/buffers/reader/char-shows-partial-line", test_reader_char_shows_partial_line);
  g_test_add_func ("/buffers/reader/line-holds-partial-line", test_reader_line_holds_partial_line);
  g_test_add_func ("/buffers/reader/no-flush", test_reader_no_flush);
  g_test_add_func ("/buffers/reader/no-flush-on-terminal", test_reader_no_flush_on_terminal);
  g_test_add_func ("/buffers/lab/chart", test_lab_chart);
  g_test_add_func ("/buffers/usage", test_usage);
  return g_test_run ();
}
