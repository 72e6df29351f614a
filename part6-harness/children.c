/* children: starting each child and watching it end; see children.h. */
#include "children.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The soft limit on open files we were given, and which the children get
 * back: it is what they expect, and a program using select() cannot watch
 * a descriptor past 1023 anyway.  The raised limit is for the harness,
 * which holds a few descriptors per child. */
static struct rlimit given_nofile;
static gboolean nofile_raised;

void
child_process_raise_fd_limit (void)
{
  if (getrlimit (RLIMIT_NOFILE, &given_nofile) != 0 ||
      given_nofile.rlim_cur >= given_nofile.rlim_max)
    return;
  struct rlimit raised = { given_nofile.rlim_max, given_nofile.rlim_max };
  nofile_raised = setrlimit (RLIMIT_NOFILE, &raised) == 0;
}

/* posix_spawn() cannot set a limit for the child alone, so ours is put
 * back for the instant of the spawn, and the child inherits it.  Lowering
 * a limit only refuses new descriptors above it, and none is opened
 * meanwhile: the harness has one thread, waiting in the spawn. */
static int
spawn_with_given_limit (ChildProcess *c, const posix_spawn_file_actions_t *actions,
                        const posix_spawnattr_t *attr, char **env)
{
  struct rlimit raised = { given_nofile.rlim_max, given_nofile.rlim_max };
  if (nofile_raised)
    setrlimit (RLIMIT_NOFILE, &given_nofile);
  int failure = posix_spawnp (&c->pid, c->argv[0], actions, attr, c->argv, env);
  if (nofile_raised)
    setrlimit (RLIMIT_NOFILE, &raised);
  return failure;
}

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
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", what,
               g_strerror (saved));
  return FALSE;
}

/* ours[0] is read, ours[1] written; one of them goes to the child. */
static gboolean
open_pipe (int fds[2], GError **error)
{
  return pipe2 (fds, O_CLOEXEC) == 0 || failed ("cannot make a pipe", error);
}

/* A pseudo-terminal: *master for us; name, the terminal the child opens
 * as its stdin and stdout.  Its settings are made here, on *slave, which
 * the caller closes once the child is started. */
static gboolean
open_pty (int *master, int *slave, char name[64], GError **error)
{
  struct termios tio;
  struct winsize size = { .ws_row = 24, .ws_col = 80 };

  *master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*master < 0)
    return failed ("cannot open a pseudo-terminal", error);
  if (grantpt (*master) != 0 || unlockpt (*master) != 0 ||
      ptsname_r (*master, name, 64) != 0 ||
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

/* How the child is set up between its creation and its exec: stdio in
 * place, every other descriptor closed, SIGPIPE (which we ignore) back to
 * its default, and a process group of its own, or on a terminal a session
 * of its own with the terminal as its controlling terminal (opening it
 * after setsid() makes it so).  posix_spawn() does all this without a
 * fork() copying our memory map for each child. */
static gboolean
setup_child (posix_spawn_file_actions_t *actions, posix_spawnattr_t *attr,
             const int stdio[3], const char *pty_name)
{
  sigset_t defaults, none;
  sigemptyset (&defaults);
  sigaddset (&defaults, SIGPIPE);
  sigemptyset (&none);
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                (pty_name ? POSIX_SPAWN_SETSID : POSIX_SPAWN_SETPGROUP);

  if (pty_name != NULL)
    {
      if (posix_spawn_file_actions_addopen (actions, 0, pty_name, O_RDWR, 0) != 0 ||
          posix_spawn_file_actions_adddup2 (actions, 0, 1) != 0)
        return FALSE;
    }
  else if (posix_spawn_file_actions_adddup2 (actions, stdio[0], 0) != 0 ||
           posix_spawn_file_actions_adddup2 (actions, stdio[1], 1) != 0)
    return FALSE;
  return posix_spawn_file_actions_adddup2 (actions, stdio[2], 2) == 0 &&
         posix_spawn_file_actions_addclosefrom_np (actions, 3) == 0 &&
         posix_spawnattr_setsigdefault (attr, &defaults) == 0 &&
         posix_spawnattr_setsigmask (attr, &none) == 0 &&
         posix_spawnattr_setpgroup (attr, 0) == 0 &&
         posix_spawnattr_setflags (attr, flags) == 0;
}

gboolean
child_process_spawn (ChildProcess *c, const char *harness_dir,
                     int stdout_pipe_size, ChildPipes *ours, GError **error)
{
  int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2];
  char pty_name[64];
  int pty_slave = -1;

  if (!open_pipe (err, error))
    return FALSE;
  if (c->pty)
    {
      if (!open_pty (&in[1], &pty_slave, pty_name, error))
        {
          close_pair (err);
          return FALSE;
        }
      out[0] = dup (in[1]);
      if (out[0] < 0)
        {
          failed ("cannot set up a pseudo-terminal", error);
          close (in[1]);
          close (pty_slave);
          close_pair (err);
          return FALSE;
        }
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

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  const int stdio[3] = { in[0], out[1], err[1] };
  int failure = ENOMEM;
  posix_spawn_file_actions_init (&actions);
  posix_spawnattr_init (&attr);
  if (setup_child (&actions, &attr, stdio, c->pty ? pty_name : NULL))
    failure = spawn_with_given_limit (c, &actions, &attr, env);
  posix_spawn_file_actions_destroy (&actions);
  posix_spawnattr_destroy (&attr);

  /* The child's ends are the child's alone now, so that its exit is our
   * end-of-file. */
  if (c->pty)
    close (pty_slave);
  else
    {
      close (in[0]);
      close (out[1]);
    }
  close (err[1]);
  if (failure != 0)
    {
      c->pid = 0;
      close (in[1]);
      close (out[0]);
      close (err[0]);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (failure), "%s",
                   g_strerror (failure));
      return FALSE;
    }
  *ours = (ChildPipes) { in[1], out[0], err[0] };
  /* The child is not reaped behind our back: its pid (and so its process
   * group) stays ours until this watch has seen it exit. */
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
