/* fifo-intro: what a named pipe (a FIFO) is, one sub-command per fact.
 *
 *   fifo-intro make PATH [--mode OCTAL]   create a FIFO, show it like ls -l
 *   fifo-intro info PATH                  what kind of file PATH is
 *   fifo-intro write PATH MESSAGE         like: echo MESSAGE > PATH
 *   fifo-intro read PATH                  like: cat PATH
 *   fifo-intro demo [--delay-ms N]        a reader and a writer, narrated
 *
 * What to look for: write and read say on stderr when they start to wait
 * in open() and when open() returned, with the milliseconds in between.
 * Opening one end of a FIFO blocks until someone opens the other end.
 * read stops at end-of-file, which comes when the last writer closes.
 *
 * Exit status: 0 on success, 1 when something fails (a missing path, a path
 * that is not a FIFO, an open or write that fails), 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_FAILED 1
#define EXIT_USAGE 2

/* "fifo-intro write: ..." on stderr: what this process is doing. */
static const char *role = "fifo-intro";

static int G_GNUC_PRINTF (2, 3)
fail (int status, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_printerr ("%s: %s\n", role, message);
  return status;
}

static const char *
kind_of (mode_t mode)
{
  if (S_ISFIFO (mode))
    return "FIFO (named pipe)";
  if (S_ISREG (mode))
    return "regular file";
  if (S_ISDIR (mode))
    return "directory";
  if (S_ISLNK (mode))
    return "symbolic link";
  if (S_ISCHR (mode))
    return "character device";
  if (S_ISBLK (mode))
    return "block device";
  if (S_ISSOCK (mode))
    return "socket";
  return "something else";
}

/* The first column of ls -l: the type letter, then rwx three times. */
static void
mode_string (mode_t mode, char out[11])
{
  static const char letters[] = "rwxrwxrwx";
  out[0] = S_ISFIFO (mode) ? 'p' : S_ISDIR (mode) ? 'd' : S_ISLNK (mode) ? 'l' : '-';
  for (int i = 0; i < 9; i++)
    out[1 + i] = (mode & (0400 >> i)) ? letters[i] : '-';
  out[10] = '\0';
}

static void
print_ls_line (const char *path, const struct stat *st)
{
  char mode[11];
  char when[32];
  struct passwd *owner = getpwuid (st->st_uid);
  struct group *group = getgrgid (st->st_gid);
  struct tm tm;

  mode_string (st->st_mode, mode);
  localtime_r (&st->st_mtime, &tm);
  strftime (when, sizeof when, "%b %e %H:%M", &tm);
  g_print ("%s %lu %s %s %lld %s %s\n", mode, (unsigned long) st->st_nlink,
           owner ? owner->pw_name : "?", group ? group->gr_name : "?",
           (long long) st->st_size, when, path);
}

static int
cmd_make (const char *path, const char *mode_text)
{
  guint64 mode = 0600;
  struct stat st;

  if (mode_text != NULL &&
      !g_ascii_string_to_unsigned (mode_text, 8, 0, 07777, &mode, NULL))
    return fail (EXIT_USAGE, "--mode %s: not an octal mode like 0600", mode_text);
  if (mkfifo (path, (mode_t) mode) != 0)
    return fail (EXIT_FAILED, "mkfifo %s: %s", path, g_strerror (errno));
  /* mkfifo's mode is filtered by the umask; set exactly what was asked. */
  if (chmod (path, (mode_t) mode) != 0 || stat (path, &st) != 0)
    return fail (EXIT_FAILED, "%s: %s", path, g_strerror (errno));
  print_ls_line (path, &st);
  return 0;
}

static int
cmd_info (const char *path)
{
  struct stat st;
  if (lstat (path, &st) != 0)
    return fail (EXIT_FAILED, "%s: %s", path, g_strerror (errno));
  g_print ("%s: %s, mode %04o\n", path, kind_of (st.st_mode), st.st_mode & 07777);
  return 0;
}

/* A FIFO, or a one-line error saying what PATH is instead. */
static gboolean
check_fifo (const char *path, int *status)
{
  struct stat st;
  if (stat (path, &st) != 0)
    *status = fail (EXIT_FAILED, "%s: %s", path, g_strerror (errno));
  else if (!S_ISFIFO (st.st_mode))
    *status = fail (EXIT_FAILED, "%s: not a FIFO (%s)", path, kind_of (st.st_mode));
  else
    return TRUE;
  return FALSE;
}

/* open(2) with the wait made visible. */
static int
open_and_tell (const char *path, int flags, const char *other_end)
{
  g_printerr ("%s: opening %s; this waits until a %s opens it too\n", role, path,
              other_end);
  gint64 start = g_get_monotonic_time ();
  int fd = open (path, flags | O_CLOEXEC);
  if (fd >= 0)
    g_printerr ("%s: open returned after %" G_GINT64_FORMAT " ms\n", role,
                (g_get_monotonic_time () - start) / 1000);
  return fd;
}

static int
cmd_write (const char *path, const char *message)
{
  g_autoptr (GError) error = NULL;
  int status = 0;

  if (!check_fifo (path, &status))
    return status;
  int fd = open_and_tell (path, O_WRONLY, "reader");
  if (fd < 0)
    return fail (EXIT_FAILED, "open %s: %s", path, g_strerror (errno));

  GIOChannel *channel = g_io_channel_unix_new (fd);
  g_io_channel_set_close_on_unref (channel, TRUE);
  g_io_channel_set_encoding (channel, NULL, NULL); /* bytes, not text */
  g_autofree char *line = g_strconcat (message, "\n", NULL);
  if (g_io_channel_write_chars (channel, line, -1, NULL, &error) != G_IO_STATUS_NORMAL ||
      g_io_channel_flush (channel, &error) != G_IO_STATUS_NORMAL)
    status = fail (EXIT_FAILED, "write %s: %s", path, error->message);
  else
    g_printerr ("%s: wrote %zu bytes and closed\n", role, strlen (line));
  g_io_channel_unref (channel);
  return status;
}

static int
cmd_read (const char *path)
{
  g_autoptr (GError) error = NULL;
  char buf[4096];
  gsize n;
  GIOStatus got;
  int status = 0;

  if (!check_fifo (path, &status))
    return status;
  int fd = open_and_tell (path, O_RDONLY, "writer");
  if (fd < 0)
    return fail (EXIT_FAILED, "open %s: %s", path, g_strerror (errno));

  GIOChannel *channel = g_io_channel_unix_new (fd);
  g_io_channel_set_close_on_unref (channel, TRUE);
  g_io_channel_set_encoding (channel, NULL, NULL);
  /* Unbuffered, a read returns what has arrived, as cat does; buffered, it
   * would wait until it had filled buf or reached end-of-file. */
  g_io_channel_set_buffered (channel, FALSE);
  while ((got = g_io_channel_read_chars (channel, buf, sizeof buf, &n, &error)) ==
         G_IO_STATUS_NORMAL)
    {
      fwrite (buf, 1, n, stdout);
      fflush (stdout);
    }
  if (got == G_IO_STATUS_EOF)
    g_printerr ("%s: end-of-file: the last writer has closed\n", role);
  else
    status = fail (EXIT_FAILED, "read %s: %s", path, error->message);
  g_io_channel_unref (channel);
  return status;
}

/* ------------------------------------------------------------------ */
/* demo: a reader (a second fifo-intro process) and a writer (this one) */

static gint64 demo_start;

static void G_GNUC_PRINTF (1, 2)
narrate (const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  g_autofree char *text = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_printerr ("[%5" G_GINT64_FORMAT " ms] demo: %s\n",
              (g_get_monotonic_time () - demo_start) / 1000, text);
}

static gboolean
on_delay_done (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

/* Waits ms milliseconds on a main loop (the reader runs meanwhile). */
static void
pause_ms (guint ms)
{
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_timeout_add (ms, on_delay_done, loop);
  g_main_loop_run (loop);
}

static void
on_reader_done (GObject *source, GAsyncResult *result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  g_main_loop_quit (data);
}

/* The demo's story, in a FIFO at path that does not exist yet. */
static int
run_demo (const char *path, guint delay_ms)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  int status;

  narrate ("making a FIFO:");
  if ((status = cmd_make (path, NULL)) != 0)
    return status;

  narrate ("starting a reader: fifo-intro read %s", path);
  const char *reader_argv[] = { self, "read", path, NULL };
  g_autoptr (GSubprocess) reader = g_subprocess_newv (reader_argv, G_SUBPROCESS_FLAGS_NONE, &error);
  if (reader == NULL)
    return fail (EXIT_FAILED, "cannot start the reader: %s", error->message);
  narrate ("no writer yet, so the reader's open() is blocked; waiting %u ms", delay_ms);
  pause_ms (delay_ms);

  narrate ("now this process opens the FIFO for writing; both opens return");
  role = "fifo-intro write";
  status = cmd_write (path, "hello through the FIFO");
  role = "fifo-intro";

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_subprocess_wait_async (reader, NULL, on_reader_done, loop);
  g_main_loop_run (loop);
  narrate ("the writer closed, so the reader saw end-of-file and exited");
  if (status == 0 && !g_subprocess_get_successful (reader))
    status = fail (EXIT_FAILED, "the reader failed");

  /* With no reader left, nobody would get what we write: a non-blocking
   * open for writing fails with ENXIO rather than waiting. */
  int fd = open (path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  narrate ("with no reader, a non-blocking open for writing fails: %s",
           fd < 0 ? g_strerror (errno) : "it did not!");
  if (fd >= 0)
    close (fd);
  return status;
}

static int
cmd_demo (guint delay_ms)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("fifo-intro-XXXXXX", &error);

  if (dir == NULL)
    return fail (EXIT_FAILED, "%s", error->message);
  g_autofree char *path = g_build_filename (dir, "demo.fifo", NULL);
  demo_start = g_get_monotonic_time ();
  int status = run_demo (path, delay_ms);
  g_unlink (path);
  g_rmdir (dir);
  narrate ("removed %s; done", dir);
  return status;
}

/* ------------------------------------------------------------------ */

static const char summary[] =
  "Sub-commands:\n"
  "  make PATH [--mode OCTAL]   create a FIFO (mode 0600 by default)\n"
  "  info PATH                  say what kind of file PATH is\n"
  "  write PATH MESSAGE         write MESSAGE and a newline, like echo > PATH\n"
  "  read PATH                  print all that is read until end-of-file\n"
  "  demo [--delay-ms N]        a reader and a writer in one terminal";

int
main (int argc, char **argv)
{
  g_autofree char *mode = NULL;
  int delay_ms = 1000;
  g_autoptr (GError) error = NULL;
  const GOptionEntry entries[] = {
    { "mode", 'm', 0, G_OPTION_ARG_STRING, &mode, "make: the FIFO's mode (default 0600)", "OCTAL" },
    { "delay-ms", 0, 0, G_OPTION_ARG_INT, &delay_ms, "demo: how long the reader waits (default 1000)", "N" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("SUB-COMMAND [ARGUMENT…]");

  setlocale (LC_ALL, "");
  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return fail (EXIT_USAGE, "%s (see --help)", error->message);

  const char *command = argc > 1 ? argv[1] : "";
  int args = argc - 2;
  if (strcmp (command, "make") == 0 && args == 1)
    return cmd_make (argv[2], mode);
  if (strcmp (command, "info") == 0 && args == 1)
    return cmd_info (argv[2]);
  if (strcmp (command, "write") == 0 && args == 2)
    {
      role = "fifo-intro write";
      return cmd_write (argv[2], argv[3]);
    }
  if (strcmp (command, "read") == 0 && args == 1)
    {
      role = "fifo-intro read";
      return cmd_read (argv[2]);
    }
  if (strcmp (command, "demo") == 0 && args == 0)
    {
      if (delay_ms < 0)
        return fail (EXIT_USAGE, "--delay-ms must not be negative");
      return cmd_demo ((guint) delay_ms);
    }
  static const char *const usages[][2] = {
    { "make", "make PATH" }, { "info", "info PATH" }, { "write", "write PATH MESSAGE" },
    { "read", "read PATH" }, { "demo", "demo" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (usages); i++)
    if (strcmp (command, usages[i][0]) == 0)
      return fail (EXIT_USAGE, "usage: fifo-intro %s (see --help)", usages[i][1]);
  if (*command == '\0')
    return fail (EXIT_USAGE, "which sub-command? make, info, write, read or demo (see --help)");
  return fail (EXIT_USAGE, "unknown sub-command '%s' (make, info, write, read, demo)", command);
}
