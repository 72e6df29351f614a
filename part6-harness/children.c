/* children: starting each child and watching it end; see children.h. */
#include "children.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

gboolean
child_process_prepare (ChildProcess *c, const char *command, gboolean shell,
                       GError **error)
{
  g_autoptr (GError) local = NULL;

  if (shell)
    {
      const char *argv[] = { "/bin/sh", "-c", command, NULL };
      c->argv = g_strdupv ((char **) argv);
      return TRUE;
    }
  if (!g_shell_parse_argv (command, NULL, &c->argv, &local))
    {
      g_set_error (error, G_SHELL_ERROR, local->code,
                   "%s: cannot split command '%s': %s", c->name, command,
                   local->message);
      return FALSE;
    }
  g_autofree char *program = g_find_program_in_path (c->argv[0]);
  if (program == NULL)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT,
                   "%s: command not found: %s", c->name, c->argv[0]);
      return FALSE;
    }
  return TRUE;
}

/* Runs in the child between fork and exec. */
static void
child_setup (gpointer data)
{
  (void) data;
  signal (SIGPIPE, SIG_DFL); /* we ignore it; the child must not */
  setpgid (0, 0);
}

static void
on_process_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  ChildProcess *c = data;
  GSubprocess *process = G_SUBPROCESS (source);

  if (!g_subprocess_wait_finish (process, result, NULL))
    return; /* cancelled: the harness is going away */
  c->exited = TRUE;
  if (g_subprocess_get_if_signaled (process))
    {
      c->term_signal = g_subprocess_get_term_sig (process);
      c->status = 128 + c->term_signal;
    }
  else
    c->status = g_subprocess_get_exit_status (process);
  c->on_exited (c->on_exited_data, c);
}

static gboolean
open_pipe (int fds[2], GError **error)
{
  if (pipe2 (fds, O_CLOEXEC) == 0)
    return TRUE;
  int saved = errno;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
               "cannot make a pipe: %s", g_strerror (saved));
  return FALSE;
}

gboolean
child_process_spawn (ChildProcess *c, const char *harness_dir,
                     int stdout_pipe_size, ChildPipes *ours, GError **error)
{
  int in[2], out[2], err[2];
  g_autoptr (GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);

  if (!open_pipe (in, error))
    return FALSE;
  if (!open_pipe (out, error))
    {
      close (in[0]), close (in[1]);
      return FALSE;
    }
  if (!open_pipe (err, error))
    {
      close (in[0]), close (in[1]), close (out[0]), close (out[1]);
      return FALSE;
    }
  if (stdout_pipe_size > 0)
    fcntl (out[0], F_SETPIPE_SZ, stdout_pipe_size); /* a hint: fine if refused */

  /* The launcher owns the child's ends and closes them once it has started,
   * so that the child's exit is our end-of-file. */
  g_subprocess_launcher_take_stdin_fd (launcher, in[0]);
  g_subprocess_launcher_take_stdout_fd (launcher, out[1]);
  g_subprocess_launcher_take_stderr_fd (launcher, err[1]);
  g_subprocess_launcher_setenv (launcher, "PIPE_HARNESS_DIR", harness_dir, TRUE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);

  c->process = g_subprocess_launcher_spawnv (launcher, (const char *const *) c->argv,
                                             error);
  if (c->process == NULL)
    {
      close (in[1]), close (out[0]), close (err[0]);
      return FALSE;
    }
  c->pid = (GPid) g_ascii_strtoll (g_subprocess_get_identifier (c->process), NULL, 10);
  *ours = (ChildPipes) { in[1], out[0], err[0] };
  g_subprocess_wait_async (c->process, NULL, on_process_exited, c);
  return TRUE;
}

gboolean
child_process_signal (ChildProcess *c, int signum)
{
  if (c->pid <= 0)
    return FALSE;
  return kill (-c->pid, signum) == 0;
}

void
child_process_clear (ChildProcess *c)
{
  g_clear_object (&c->process);
  g_clear_pointer (&c->argv, g_strfreev);
}
