/* harness-run: helpers of the pipe-harness integration tests; see
 * harness-run.h. */
#include "harness-run.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

char *
child (const char *args)
{
  return g_strdup_printf ("%s %s", HARNESS_CHILD, args);
}

/* Starts pipe-harness with args (NULL-terminated) in run->tmp.  A GLib
 * warning or critical in the harness aborts it (G_DEBUG=fatal-warnings), so
 * no test can pass with one printed. */
void
run_start_full_flags (Run *run, const char *const *extra_env, TuProcFlags flags,
                      const char *const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GPtrArray) env = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (argv, (gpointer) PIPE_HARNESS);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_ptr_array_add (env, g_strdup_printf ("XDG_RUNTIME_DIR=%s", run->tmp));
  g_ptr_array_add (env, g_strdup ("G_DEBUG=fatal-warnings"));
  for (guint i = 0; extra_env != NULL && extra_env[i] != NULL; i++)
    g_ptr_array_add (env, g_strdup (extra_env[i]));
  g_ptr_array_add (env, NULL);
  run->proc = tu_proc_start_full ((const char *const *) argv->pdata, run->tmp,
                                  (const char *const *) env->pdata, flags);
}

void
run_start_full (Run *run, const char *const *extra_env, const char *const *args)
{
  run_start_full_flags (run, extra_env, TU_PROC_DEFAULT, args);
}

void
run_start_argv (Run *run, const char *const *args)
{
  run_start_full (run, NULL, args);
}

void
run_init (Run *run)
{
  *run = (Run) { .tmp = tu_tmpdir_new () };
}

void
run_clear (Run *run)
{
  g_clear_pointer (&run->proc, tu_proc_free);
  tu_tmpdir_remove (run->tmp);
  g_free (run->tmp);
}

int
run_wait (Run *run)
{
  return tu_proc_wait (run->proc, WAIT_MS);
}

/* Ends a harness that would run on: SIGTERM, status 143, and its private
 * folder gone. */
void
run_stop (Run *run)
{
  tu_proc_signal (run->proc, SIGTERM);
  g_assert_cmpint (run_wait (run), ==, 128 + SIGTERM);
  g_autoptr (GDir) dir = g_dir_open (run->tmp, 0, NULL);
  for (const char *name; (name = g_dir_read_name (dir)) != NULL;)
    g_assert_false (g_str_has_prefix (name, "pipe-harness-"));
  run_clear (run);
}

const char *
run_out (Run *run)
{
  return tu_proc_stdout (run->proc)->str;
}

const char *
run_err (Run *run)
{
  return tu_proc_stderr (run->proc)->str;
}

/* The value printed on stderr after "NAME<what>" up to the end of line. */
char *
stderr_value (Run *run, const char *name, const char *what)
{
  g_autofree char *needle = g_strconcat (name, what, NULL);
  if (!tu_proc_wait_stderr (run->proc, needle, WAIT_MS))
    return NULL;
  const char *start = strstr (run_err (run), needle) + strlen (needle);
  if (!tu_proc_wait_stderr (run->proc, "\n", WAIT_MS))
    return NULL;
  const char *end = strchr (start, '\n');
  while (end == NULL)
    {
      tu_sleep_ms (10);
      end = strchr (start, '\n');
    }
  return g_strndup (start, end - start);
}

char *
fifo_of (Run *run, const char *name)
{
  return stderr_value (run, name, " reads its input from ");
}

GPid
pid_of (Run *run, const char *name)
{
  g_autofree char *value = stderr_value (run, name, " started (pid ");
  return value ? (GPid) g_ascii_strtoll (value, NULL, 10) : 0;
}

/* Alive, and not a zombie. */
gboolean
pid_alive (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  const char *paren = strrchr (stat, ')');
  return paren != NULL && paren[2] != 'Z';
}

void
assert_gone (GPid pid)
{
  /* An orphaned grandchild may take a moment to be reaped by init. */
  for (int i = 0; i < 200 && pid_alive (pid); i++)
    tu_sleep_ms (10);
  g_assert_false (pid_alive (pid));
}

/* Nothing but the names in keep is left in folder. */
void
assert_folder_holds (const char *folder, const char *const *keep)
{
  g_autoptr (GDir) dir = g_dir_open (folder, 0, NULL);
  const char *name;
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (keep == NULL || !g_strv_contains (keep, name))
      g_error ("%s was left behind in %s", name, folder);
}

void
write_fifo (const char *path, const char *text)
{
  int fd = tu_fifo_open_write (path, WAIT_MS);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, text, strlen (text)), ==, (gssize) strlen (text));
  close (fd);
}

void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

