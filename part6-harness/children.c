/* children: starting each child and watching it end; see children.h. */
#include "children.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <termios.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "signals.h"

#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* The program of c->argv exists and can be run: c->path is where; else an
 * error that says why and names it, G_SPAWN_ERROR_NOENT. */
static gboolean
check_program (ChildProcess *c, GError **error)
{
  const char *program = c->argv[0];
  const char *why = NULL;
  g_autofree char *path = NULL;
  if (strchr (program, '/') == NULL)
    {
      path = g_find_program_in_path (program);
      if (path == NULL)
        why = "command not found";
    }
  else if (!g_file_test (program, G_FILE_TEST_EXISTS))
    why = "no such file";
  else if (g_file_test (program, G_FILE_TEST_IS_DIR) ||
           !g_file_test (program, G_FILE_TEST_IS_EXECUTABLE))
    why = "not an executable file";
  else
    path = g_strdup (program);
  if (why != NULL)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT, "%s: %s", why, program);
      return FALSE;
    }
  g_free (c->path);
  c->path = g_steal_pointer (&path);
  return TRUE;
}

static gboolean
failed (const char *what, GError **error)
{
  int saved = errno;
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: %s", what,
               g_strerror (saved));
  return FALSE;
}

/* The soft limit on open files we were given, and which the children get
 * back: it is what they expect, and a program using select() cannot watch
 * a descriptor past 1023 anyway.  The raised limit is for the harness,
 * which holds a few descriptors per child. */
static struct rlimit given_nofile;
static gboolean nofile_raised;

/* Where a child's stdin, stdout and stderr wait for it while it starts:
 * three descriptors taken early, so low in the table, and a fourth that
 * holds /dev/null for them in between.  The child shares our descriptor
 * table until it makes its own copy of the part below slots_end: a copy
 * of the whole table, made by a plain clone and closed again by the exec,
 * would cost each start as much as the descriptors of every child started
 * before it. */
enum { SLOT_IN, SLOT_OUT, SLOT_ERR, SLOT_PARK, N_SLOTS };
static int slots[N_SLOTS] = { -1, -1, -1, -1 };
static int slots_end;

static gboolean
take_slots (GError **error)
{
  if (slots[SLOT_PARK] >= 0)
    return TRUE;
  int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0)
    return failed ("cannot open /dev/null", error);
  for (int i = 0; i < N_SLOTS; i++)
    {
      /* Above stdio even if one of 0, 1 and 2 is closed. */
      slots[i] = fcntl (null, F_DUPFD_CLOEXEC, 3);
      if (slots[i] < 0)
        {
          failed ("cannot set aside descriptors for the children", error);
          close (null);
          for (int j = 0; j < i; j++)
            close (g_steal_fd (&slots[j]));
          slots_end = 0;
          return FALSE;
        }
      slots_end = MAX (slots_end, slots[i] + 1);
    }
  close (null);
  return TRUE;
}

void
child_process_init (void)
{
  if (getrlimit (RLIMIT_NOFILE, &given_nofile) == 0 &&
      given_nofile.rlim_cur < given_nofile.rlim_max)
    {
      struct rlimit raised = { given_nofile.rlim_max, given_nofile.rlim_max };
      nofile_raised = setrlimit (RLIMIT_NOFILE, &raised) == 0;
    }
  take_slots (NULL); /* if this fails, the first start says why */
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
   * starts, rather than through a failed start (unless its name is known
   * only when it starts: then it is checked then). */
  if (strstr (c->argv[0], "${") != NULL || check_program (c, &local))
    return TRUE;
  g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT, "%s: %s", c->name, local->message);
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

/* What the child needs between its creation and its exec, prepared
 * beforehand: the child may only make system calls. */
typedef struct {
  const char *path;
  char **argv;
  char **env;
  const char *pty_name;  /* or NULL: then its stdin and stdout are in slots */
  const sigset_t *defaults;
  const struct rlimit *nofile; /* the open files limit to give back, or NULL */
  pid_t harness;
  int error;             /* set by the child if it cannot exec */
} ChildSetup;

/* The child, sharing our memory and perhaps our descriptor table (and our
 * stack's owner, who waits) until its exec.  First a table of its own with
 * only the descriptors below the slots' end; then stdio in place from the
 * slots, every other descriptor closed, the signals we catch or ignore
 * back to their default action and an empty mask, death with the harness,
 * and a process group of its own, or on a terminal a session of its own
 * with the terminal as its controlling terminal (opening it after
 * setsid() makes it so). */
static int
child_main (void *data)
{
  ChildSetup *s = data;
  struct sigaction default_action = { .sa_handler = SIG_DFL };
  sigset_t none;

  if (close_range (slots_end, ~0U, CLOSE_RANGE_UNSHARE) != 0)
    goto failed;
  if (s->pty_name != NULL)
    {
      int tty;
      if (setsid () < 0 || (tty = open (s->pty_name, O_RDWR)) < 0 ||
          dup2 (tty, 0) < 0 || dup2 (tty, 1) < 0)
        goto failed;
    }
  else if (setpgid (0, 0) != 0 || dup2 (slots[SLOT_IN], 0) < 0 ||
           dup2 (slots[SLOT_OUT], 1) < 0)
    goto failed;
  if (dup2 (slots[SLOT_ERR], 2) < 0 || close_range (3, ~0U, 0) != 0)
    goto failed;
  for (int signum = 1; signum < NSIG; signum++)
    if (sigismember (s->defaults, signum) == 1)
      sigaction (signum, &default_action, NULL);
  if (s->nofile != NULL)
    setrlimit (RLIMIT_NOFILE, s->nofile);
  /* Killed if the harness dies; it may have died already. */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid () != s->harness)
    goto failed;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  execve (s->path, s->argv, s->env);
failed:
  s->error = errno != 0 ? errno : ESRCH;
  _exit (127);
}

/* A plain clone copies our descriptor table into the child, and its exec
 * closes the copy again: with the descriptors of many children open, that
 * is most of the cost of a start, and it grows with every child started.
 * So the child shares our table instead, and copies only the part below
 * the slots' end.  Except under valgrind, which runs no clone but the one
 * vfork() makes: there the child gets a copy, and closes it itself. */
static gboolean
can_share_table (void)
{
  return !RUNNING_ON_VALGRIND;
}

/* The child runs on this stack until its exec, while we wait. */
static char child_stack[64 * 1024] __attribute__ ((aligned (16)));

/* Starts the child as posix_spawn() does, with no copy of our memory map
 * (and with share_table, none of our descriptor table): a clone sharing
 * them, which we wait for until it has exec'd.
 * Every signal is blocked meanwhile, so that none of our handlers runs in
 * the child.  Returns its pid, or -1 with errno set. */
static pid_t
start_process (ChildSetup *setup, gboolean share_table)
{
  sigset_t all, old;
  int status;

  sigfillset (&all);
  sigprocmask (SIG_BLOCK, &all, &old);
  setup->error = 0;
  pid_t pid = clone (child_main, child_stack + sizeof child_stack,
                     CLONE_VM | CLONE_VFORK | (share_table ? CLONE_FILES : 0) | SIGCHLD,
                     setup);
  int saved = errno;
  sigprocmask (SIG_SETMASK, &old, NULL);
  if (pid > 0 && setup->error != 0)
    {
      saved = setup->error;
      while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
      pid = -1;
    }
  errno = saved;
  return pid;
}

/* Puts fd in the slot, in place of what was there. */
static gboolean
fill_slot (int slot, int fd)
{
  return dup3 (fd, slots[slot], O_CLOEXEC) >= 0;
}

gboolean
child_process_spawn (ChildProcess *c, const char *harness_dir,
                     int stdout_pipe_size, ChildPipes *ours, GError **error)
{
  int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2];
  char pty_name[64];
  int pty_slave = -1;

  if (!check_program (c, error) || !take_slots (error))
    return FALSE;
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

  g_auto (GStrv) env = g_get_environ ();
  for (guint i = 0; c->env != NULL && c->env[i] != NULL; i++)
    {
      g_autofree char *name = g_strndup (c->env[i], strcspn (c->env[i], "="));
      env = g_environ_setenv (env, name, c->env[i] + strlen (name) + 1, TRUE);
    }
  env = g_environ_setenv (env, "PIPE_HARNESS_DIR", harness_dir, TRUE);
  /* Nothing interprets escape sequences on our side of the terminal. */
  if (c->pty)
    env = g_environ_setenv (env, "TERM", "dumb", TRUE);

  ChildSetup setup = {
    .path = c->path,
    .argv = c->argv,
    .env = env,
    .pty_name = c->pty ? pty_name : NULL,
    .defaults = signals_child_defaults (),
    .nofile = nofile_raised ? &given_nofile : NULL,
    .harness = getpid (),
  };
  int failure = 0;
  if ((!c->pty && (!fill_slot (SLOT_IN, in[0]) || !fill_slot (SLOT_OUT, out[1]))) ||
      !fill_slot (SLOT_ERR, err[1]))
    failure = errno;
  else
    {
      c->pid = start_process (&setup, can_share_table ());
      failure = c->pid > 0 ? 0 : errno;
    }
  for (int i = SLOT_IN; i <= SLOT_ERR; i++)
    fill_slot (i, slots[SLOT_PARK]);

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
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (failure), "%s: %s",
                   c->argv[0], g_strerror (failure));
      return FALSE;
    }
  *ours = (ChildPipes) { in[1], out[0], err[0] };
  return TRUE;
}

/* Its pid (and so its process group) stays ours until we reap it here. */
void
child_process_poll (ChildProcess *c)
{
  while (c->pid > 0 && !c->exited)
    {
      siginfo_t info = { .si_pid = 0 };
      if (waitid (P_PID, c->pid, &info, WEXITED | WSTOPPED | WNOHANG) != 0)
        {
          if (errno == EINTR)
            continue;
          g_error ("cannot wait for %s: %s", c->name, g_strerror (errno));
        }
      if (info.si_pid == 0)
        return;
      if (info.si_code == CLD_STOPPED || info.si_code == CLD_TRAPPED)
        {
          c->on_stopped (c->on_exited_data, c, info.si_status);
          continue;
        }
      c->exited = TRUE;
      if (info.si_code == CLD_EXITED)
        c->status = info.si_status;
      else
        {
          c->term_signal = info.si_status;
          c->status = 128 + c->term_signal;
        }
      c->on_exited (c->on_exited_data, c);
    }
}

gboolean
child_process_signal (ChildProcess *c, int signum)
{
  if (c->pid <= 0)
    return FALSE;
  return kill (-c->pid, signum) == 0;
}

void
child_process_reset (ChildProcess *c)
{
  c->pid = 0;
  c->exited = FALSE;
  c->status = 0;
  c->term_signal = 0;
}

void
child_process_clear (ChildProcess *c)
{
  g_clear_pointer (&c->argv, g_strfreev);
  g_clear_pointer (&c->env, g_strfreev);
  g_clear_pointer (&c->path, g_free);
}
