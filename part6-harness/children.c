/* children: starting each child and watching it end; see children.h. */
#include "children.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <string.h>
#include <sys/wait.h>
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
  /* A missing program is the commonest mistake: say so before anything
   * starts, rather than through a failed start. */
  const char *program = c->argv[0];
  const char *why = NULL;
  if (strchr (program, '/') == NULL)
    {
      g_autofree char *found = g_find_program_in_path (program);
      if (found == NULL)
        why = "command not found";
    }
  else if (!g_file_test (program, G_FILE_TEST_EXISTS))
    why = "no such file";
  else if (g_file_test (program, G_FILE_TEST_IS_DIR) ||
           !g_file_test (program, G_FILE_TEST_IS_EXECUTABLE))
    why = "not an executable file";
  if (why != NULL)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT, "%s: %s: %s",
                   c->name, why, program);
      return FALSE;
    }
  return TRUE;
}

/* Runs in the child between fork and exec, after its stdio is in place. */
static void
child_setup (gpointer data)
{
  gboolean pty = GPOINTER_TO_INT (data);

  signal (SIGPIPE, SIG_DFL); /* we ignore it; the child must not */
  if (pty)
    {
      setsid ();                     /* a session, and a group, of its own */
      ioctl (STDIN_FILENO, TIOCSCTTY, 0); /* with the terminal as its own */
    }
  else
    setpgid (0, 0);
}

static void
on_child_exited (GPid pid, int wait_status, gpointer data)
{
  ChildProcess *c = data;
  (void) pid;

  c->watch = 0;
  c->exited = TRUE;
  if (WIFSIGNALED (wait_status))
    {
      c->term_signal = WTERMSIG (wait_status);
      c->status = 128 + c->term_signal;
    }
  else
    c->status = WEXITSTATUS (wait_status);
  c->on_exited (c->on_exited_data, c);
}

static gboolean
failed (const char *what, GError **error)
{
  int saved = errno;
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", what,
               g_strerror (saved));
  return FALSE;
}

/* ours[0] is read, ours[1] written; one of them goes to the child. */
static gboolean
open_pipe (int fds[2], GError **error)
{
  return pipe2 (fds, O_CLOEXEC) == 0 || failed ("cannot make a pipe", error);
}

/* A pseudo-terminal: *master for us, *slave for the child's stdin and
 * stdout. */
static gboolean
open_pty (int *master, int *slave, GError **error)
{
  char name[64];
  struct termios tio;
  struct winsize size = { .ws_row = 24, .ws_col = 80 };

  *master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*master < 0)
    return failed ("cannot open a pseudo-terminal", error);
  if (grantpt (*master) != 0 || unlockpt (*master) != 0 ||
      ptsname_r (*master, name, sizeof name) != 0 ||
      (*slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
    {
      failed ("cannot set up a pseudo-terminal", error);
      close (*master);
      return FALSE;
    }
  /* Line by line, as typed, but nothing echoed back, and "\n" left as it
   * is rather than turned into "\r\n". */
  if (tcgetattr (*slave, &tio) == 0)
    {
      tio.c_lflag &= ~(ECHO | ECHONL);
      tio.c_oflag &= ~ONLCR;
      tcsetattr (*slave, TCSANOW, &tio);
    }
  ioctl (*slave, TIOCSWINSZ, &size);
  return TRUE;
}

static void
close_pair (int fds[2])
{
  close (fds[0]);
  close (fds[1]);
}

gboolean
child_process_spawn (ChildProcess *c, const char *harness_dir,
                     int stdout_pipe_size, ChildPipes *ours, GError **error)
{
  int in[2], out[2], err[2];

  if (!open_pipe (err, error))
    return FALSE;
  if (c->pty)
    {
      /* in[0] and out[1], the child's ends, are both the terminal. */
      if (!open_pty (&in[1], &in[0], error))
        {
          close_pair (err);
          return FALSE;
        }
      out[0] = dup (in[1]);
      out[1] = dup (in[0]);
    }
  else
    {
      if (!open_pipe (in, error))
        {
          close_pair (err);
          return FALSE;
        }
      if (!open_pipe (out, error))
        {
          close_pair (in);
          close_pair (err);
          return FALSE;
        }
      if (stdout_pipe_size > 0)
        fcntl (out[0], F_SETPIPE_SZ, stdout_pipe_size); /* a hint: fine if refused */
    }

  g_auto (GStrv) env = g_environ_setenv (g_get_environ (), "PIPE_HARNESS_DIR",
                                         harness_dir, TRUE);
  /* Nothing interprets escape sequences on our side of the terminal. */
  if (c->pty)
    env = g_environ_setenv (env, "TERM", "dumb", TRUE);
  /* The child is not reaped behind our back: its pid (and so its process
   * group) stays ours until the child watch has seen it exit. */
  gboolean started = g_spawn_async_with_pipes_and_fds (
    NULL, (const char *const *) c->argv, (const char *const *) env,
    G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, child_setup,
    GINT_TO_POINTER (c->pty), in[0], out[1], err[1], NULL, NULL, 0, &c->pid,
    NULL, NULL, NULL, error);

  /* The child's ends are the child's alone now, so that its exit is our
   * end-of-file. */
  close (in[0]);
  close (out[1]);
  close (err[1]);
  if (!started)
    {
      close (in[1]);
      close (out[0]);
      close (err[0]);
      return FALSE;
    }
  *ours = (ChildPipes) { in[1], out[0], err[0] };
  c->watch = g_child_watch_add (c->pid, on_child_exited, c);
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
  g_clear_handle_id (&c->watch, g_source_remove);
  g_clear_pointer (&c->argv, g_strfreev);
}
