/* testutil: helpers shared by the test programs; see testutil.h. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

gint64
tu_now_us (void)
{
  return g_get_monotonic_time ();
}

char *
tu_tmpdir_new (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("pipe-test-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
remove_tree (const char *path)
{
  GStatBuf st;
  if (g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
      g_chmod (path, 0700);
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

void
tu_tmpdir_remove (const char *dir)
{
  remove_tree (dir);
}

static gboolean
on_sleep_done (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

void
tu_sleep_ms (guint ms)
{
  gboolean done = FALSE;
  g_timeout_add (ms, on_sleep_done, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* ------------------------------------------------------------------ */

typedef struct {
  int fd;
  guint watch;
  GString *data;
  GArray *chunks;
  gboolean eof;
} Collector;

struct TuProc {
  char *what; /* argv joined, for messages */
  GSubprocess *proc;
  GOutputStream *stdin_pipe;
  Collector out, err;
  gboolean exited;
  int status;
  int terminal; /* master side, or -1 */
};

static gboolean
on_collector_readable (int fd, GIOCondition cond, gpointer data)
{
  Collector *c = data;
  char buf[65536];
  (void) cond;

  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n > 0)
        {
          g_string_append_len (c->data, buf, n);
          TuChunk chunk = { tu_now_us (), c->data->len };
          g_array_append_val (c->chunks, chunk);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return G_SOURCE_CONTINUE;
      c->eof = TRUE; /* end-of-file, or an error that ends the stream */
      c->watch = 0;
      return G_SOURCE_REMOVE;
    }
}

static void
collector_init (Collector *c, GInputStream *stream)
{
  c->data = g_string_new (NULL);
  c->chunks = g_array_new (FALSE, FALSE, sizeof (TuChunk));
  if (stream == NULL)
    {
      c->fd = -1;
      c->eof = TRUE;
      return;
    }
  c->fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (stream));
  g_assert_true (g_unix_set_fd_nonblocking (c->fd, TRUE, NULL));
  c->watch = g_unix_fd_add (c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                            on_collector_readable, c);
}

static void
collector_clear (Collector *c)
{
  g_clear_handle_id (&c->watch, g_source_remove);
  g_string_free (c->data, TRUE);
  g_array_unref (c->chunks);
}

/* Each process leads a group of its own, so that stopping it at a time
 * limit reaches whatever it started too. */
static void
lead_own_group (gpointer data)
{
  (void) data;
  setpgid (0, 0);
}

/* Or, on a terminal, leads a session of its own with stdin (the terminal's
 * slave side, already in place) as its controlling terminal. */
static void
lead_own_session (gpointer data)
{
  (void) data;
  setsid ();
  ioctl (0, TIOCSCTTY, 0);
}

static int
open_terminal (int *slave)
{
  char name[64];
  int master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_assert_cmpint (master, >=, 0);
  g_assert_cmpint (grantpt (master), ==, 0);
  g_assert_cmpint (unlockpt (master), ==, 0);
  g_assert_cmpint (ptsname_r (master, name, sizeof name), ==, 0);
  *slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_assert_cmpint (*slave, >=, 0);
  return master;
}

static void
on_proc_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  TuProc *p = data;
  GSubprocess *proc = G_SUBPROCESS (source);

  g_subprocess_wait_finish (proc, result, NULL);
  if (g_subprocess_get_if_signaled (proc))
    p->status = 128 + g_subprocess_get_term_sig (proc);
  else
    p->status = g_subprocess_get_exit_status (proc);
  p->exited = TRUE;
}

TuProc *
tu_proc_start_full (const char *const *argv,
                    const char *cwd,
                    const char *const *extra_env,
                    TuProcFlags flags)
{
  GSubprocessFlags sflags = G_SUBPROCESS_FLAGS_STDERR_PIPE;
  sflags |= (flags & TU_PROC_STDIN_INHERIT) ? G_SUBPROCESS_FLAGS_NONE
                                            : G_SUBPROCESS_FLAGS_STDIN_PIPE;
  sflags |= (flags & TU_PROC_STDOUT_DISCARD) ? G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                             : G_SUBPROCESS_FLAGS_STDOUT_PIPE;
  if (flags & TU_PROC_STDIN_TERMINAL)
    sflags &= ~G_SUBPROCESS_FLAGS_STDIN_PIPE;
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (sflags);
  g_autoptr (GError) error = NULL;
  TuProc *p = g_new0 (TuProc, 1);

  p->terminal = -1;
  if (flags & TU_PROC_STDIN_INHERIT)
    g_subprocess_launcher_set_stdin_file_path (launcher, "/dev/null");
  if (flags & TU_PROC_STDIN_TERMINAL)
    {
      int slave;
      p->terminal = open_terminal (&slave);
      g_subprocess_launcher_take_stdin_fd (launcher, slave);
      g_subprocess_launcher_set_child_setup (launcher, lead_own_session, NULL, NULL);
    }
  else
    g_subprocess_launcher_set_child_setup (launcher, lead_own_group, NULL, NULL);
  if (cwd != NULL)
    g_subprocess_launcher_set_cwd (launcher, cwd);
  for (gsize i = 0; extra_env != NULL && extra_env[i] != NULL; i++)
    {
      g_auto (GStrv) kv = g_strsplit (extra_env[i], "=", 2);
      g_subprocess_launcher_setenv (launcher, kv[0], kv[1] ? kv[1] : "", TRUE);
    }

  p->what = g_strjoinv (" ", (char **) argv);
  p->proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  p->stdin_pipe = g_subprocess_get_stdin_pipe (p->proc);
  if (p->stdin_pipe != NULL)
    g_object_ref (p->stdin_pipe);
  collector_init (&p->out, g_subprocess_get_stdout_pipe (p->proc));
  collector_init (&p->err, g_subprocess_get_stderr_pipe (p->proc));
  g_subprocess_wait_async (p->proc, NULL, on_proc_exited, p);
  return p;
}

TuProc *
tu_proc_start (const char *first_arg, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  va_list ap;
  va_start (ap, first_arg);
  for (const char *a = first_arg; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  return tu_proc_start_full ((const char *const *) argv->pdata, NULL, NULL,
                             TU_PROC_DEFAULT);
}

GPid
tu_proc_pid (TuProc *p)
{
  const char *id = g_subprocess_get_identifier (p->proc);
  return id ? (GPid) g_ascii_strtoll (id, NULL, 10) : 0;
}

int
tu_proc_terminal (TuProc *p)
{
  return p->terminal;
}

void
tu_proc_write (TuProc *p, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_assert_nonnull (p->stdin_pipe);
  g_output_stream_write_all (p->stdin_pipe, text, strlen (text), NULL, NULL,
                             &error);
  g_assert_no_error (error);
}

void
tu_proc_close_stdin (TuProc *p)
{
  if (p->stdin_pipe != NULL)
    g_output_stream_close (p->stdin_pipe, NULL, NULL);
  g_clear_object (&p->stdin_pipe);
}

void
tu_proc_signal (TuProc *p, int signum)
{
  g_subprocess_send_signal (p->proc, signum);
}

gboolean
tu_proc_running (TuProc *p)
{
  g_main_context_iteration (NULL, FALSE);
  return !p->exited;
}

GString *
tu_proc_stdout (TuProc *p)
{
  return p->out.data;
}

GString *
tu_proc_stderr (TuProc *p)
{
  return p->err.data;
}

gint64
tu_proc_stdout_arrival (TuProc *p, gsize offset)
{
  for (guint i = 0; i < p->out.chunks->len; i++)
    {
      TuChunk *c = &g_array_index (p->out.chunks, TuChunk, i);
      if (c->end > offset)
        return c->at_us;
    }
  return -1;
}

/* Fails the test and says why at once: an assertion that follows may abort
 * before the failure's own message is shown. */
static void G_GNUC_PRINTF (1, 2)
fail_now (const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_printerr ("%s\n", message);
  g_test_fail_printf ("%s", message);
}

static gboolean
on_deadline (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
wait_output (TuProc *p, Collector *c, const char *stream, const char *needle,
             guint timeout_ms)
{
  gboolean late = FALSE;
  guint timer = g_timeout_add (timeout_ms, on_deadline, &late);

  while (strstr (c->data->str, needle) == NULL && !late && !c->eof)
    g_main_context_iteration (NULL, TRUE);
  if (!late) /* a timer that fired has removed itself */
    g_source_remove (timer);
  if (strstr (c->data->str, needle) != NULL)
    return TRUE;
  fail_now ("%s: %s never showed \"%s\" (%s); it showed:\n%s\n"
                      "and on stderr:\n%s",
                      p->what, stream, needle,
                      late ? "timed out" : "end-of-file", c->data->str,
                      p->err.data->str);
  return FALSE;
}

gboolean
tu_proc_wait_stdout (TuProc *p, const char *needle, guint timeout_ms)
{
  return wait_output (p, &p->out, "stdout", needle, timeout_ms);
}

gboolean
tu_proc_wait_stderr (TuProc *p, const char *needle, guint timeout_ms)
{
  return wait_output (p, &p->err, "stderr", needle, timeout_ms);
}

static gboolean
wait_ended (TuProc *p, guint timeout_ms)
{
  gboolean late = FALSE;
  guint timer = g_timeout_add (timeout_ms, on_deadline, &late);
  while (!(p->exited && p->out.eof && p->err.eof) && !late)
    g_main_context_iteration (NULL, TRUE);
  if (!late) /* a timer that fired has removed itself */
    g_source_remove (timer);
  return !late;
}

/* A process that outlives its time limit gets SIGTERM (so a harness can
 * still clean up after itself), then SIGKILL. */
static void
stop_process (TuProc *p)
{
  GPid pid = tu_proc_pid (p);
  if (p->exited || pid <= 0)
    return;
  kill (-pid, SIGTERM);
  if (!wait_ended (p, 2000))
    {
      kill (-pid, SIGKILL);
      wait_ended (p, 2000);
    }
}

int
tu_proc_wait (TuProc *p, guint timeout_ms)
{
  if (wait_ended (p, timeout_ms))
    return p->status;
  fail_now ("%s did not end within %u ms; stdout:\n%s\nstderr:\n%s",
                      p->what, timeout_ms, p->out.data->str, p->err.data->str);
  stop_process (p);
  return -1;
}

void
tu_proc_free (TuProc *p)
{
  stop_process (p);
  tu_proc_close_stdin (p);
  collector_clear (&p->out);
  collector_clear (&p->err);
  if (p->terminal >= 0)
    close (p->terminal);
  g_object_unref (p->proc);
  g_free (p->what);
  g_free (p);
}

int
tu_run (const char *const *argv, const char *input, guint timeout_ms,
        char **out, char **err)
{
  g_autoptr (TuProc) p = tu_proc_start_full (argv, NULL, NULL, TU_PROC_DEFAULT);
  if (input != NULL)
    tu_proc_write (p, input);
  tu_proc_close_stdin (p);
  int status = tu_proc_wait (p, timeout_ms);
  if (out != NULL)
    *out = g_strdup (p->out.data->str);
  if (err != NULL)
    *err = g_strdup (p->err.data->str);
  return status;
}

/* ------------------------------------------------------------------ */

int
tu_fifo_open_read (const char *path, gboolean nonblocking)
{
  int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      fail_now ("open %s for reading: %s", path, g_strerror (errno));
      return -1;
    }
  if (!nonblocking)
    g_assert_true (g_unix_set_fd_nonblocking (fd, FALSE, NULL));
  return fd;
}

int
tu_fifo_open_write (const char *path, guint timeout_ms)
{
  gint64 give_up = tu_now_us () + (gint64) timeout_ms * 1000;
  for (;;)
    {
      int fd = open (path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0)
        {
          g_assert_true (g_unix_set_fd_nonblocking (fd, FALSE, NULL));
          return fd;
        }
      if (errno != ENXIO || tu_now_us () > give_up)
        {
          fail_now ("open %s for writing: %s", path,
                              errno == ENXIO ? "no reader came"
                                             : g_strerror (errno));
          return -1;
        }
      tu_sleep_ms (5); /* no reader yet: try again shortly */
    }
}

gboolean
tu_read_until_eof (int fd, guint timeout_ms, GString *data, GArray *chunks)
{
  Collector c = { .fd = fd, .data = data, .chunks = chunks };
  gboolean late = FALSE;
  guint timer = g_timeout_add (timeout_ms, on_deadline, &late);

  g_assert_true (g_unix_set_fd_nonblocking (fd, TRUE, NULL));
  c.watch = g_unix_fd_add (fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                           on_collector_readable, &c);
  while (!c.eof && !late)
    g_main_context_iteration (NULL, TRUE);
  if (!late) /* a timer that fired has removed itself */
    g_source_remove (timer);
  g_clear_handle_id (&c.watch, g_source_remove);
  if (!c.eof)
    fail_now ("no end-of-file within %u ms; read so far:\n%s",
                        timeout_ms, data->str);
  return c.eof;
}

void
tu_mkfifo (const char *path)
{
  if (mkfifo (path, 0600) != 0)
    fail_now ("mkfifo %s: %s", path, g_strerror (errno));
}

guint
tu_count (const char *haystack, const char *needle)
{
  guint n = 0;
  gsize len = strlen (needle);
  for (const char *p = strstr (haystack, needle); p != NULL;
       p = strstr (p + len, needle))
    n++;
  return n;
}
