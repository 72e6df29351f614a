/* signals: catching signals through a self-pipe; see signals.h. */
#include "signals.h"

#include "fd-watch.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <unistd.h>

/* Those whose default action ends the process, besides the real-time
 * ones. */
static const int ending_signals[] = {
  SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM,
  SIGPROF, SIGXCPU, SIGXFSZ, SIGIO, SIGSTKFLT, SIGPWR,
};
static const int job_control_signals[] = { SIGTSTP, SIGCONT, SIGCHLD };

static int signal_pipe[2] = { -1, -1 };
static guint watch;
static SignalFunc signal_func;
static gpointer signal_data;
static sigset_t child_defaults;

static void
on_caught (int signum)
{
  int saved = errno;
  unsigned char number = (unsigned char) signum;
  /* A full pipe drops it: hundreds of signals are waiting already. */
  ssize_t written = write (signal_pipe[1], &number, 1);
  (void) written;
  errno = saved;
}

static gboolean
on_pipe_readable (int fd, GIOCondition condition, gpointer data)
{
  unsigned char numbers[64];
  (void) condition;
  (void) data;

  ssize_t n = read (fd, numbers, sizeof numbers);
  gboolean child_told = FALSE;
  for (ssize_t i = 0; i < n; i++)
    {
      /* One look at the children is enough for all the SIGCHLDs read. */
      if (numbers[i] == SIGCHLD && child_told)
        continue;
      child_told |= numbers[i] == SIGCHLD;
      signal_func (signal_data, numbers[i]);
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
ignored_at_entry (int signum)
{
  struct sigaction old;
  return sigaction (signum, NULL, &old) == 0 && old.sa_handler == SIG_IGN;
}

/* SIGCHLD is caught whatever it was: ignoring it would reap our children
 * behind our back. */
static void
catch (int signum, sigset_t *caught)
{
  struct sigaction action = { .sa_handler = on_caught, .sa_flags = SA_RESTART };

  if (signum != SIGCHLD && ignored_at_entry (signum))
    return;
  sigfillset (&action.sa_mask);
  sigaction (signum, &action, NULL);
  sigaddset (caught, signum);
  sigaddset (&child_defaults, signum);
}

gboolean
signals_start (SignalFunc func, gpointer data, GError **error)
{
  sigset_t caught;

  signal_func = func;
  signal_data = data;
  if (signal_pipe[0] < 0 && pipe2 (signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    {
      int saved = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "cannot make a pipe for signals: %s", g_strerror (saved));
      return FALSE;
    }
  sigemptyset (&caught);
  sigemptyset (&child_defaults);
  for (guint i = 0; i < G_N_ELEMENTS (ending_signals); i++)
    catch (ending_signals[i], &caught);
  for (int signum = SIGRTMIN; signum <= SIGRTMAX; signum++)
    catch (signum, &caught);
  for (guint i = 0; i < G_N_ELEMENTS (job_control_signals); i++)
    catch (job_control_signals[i], &caught);
  /* A reader of our stdout going away is an EPIPE to handle, not a death. */
  if (!ignored_at_entry (SIGPIPE))
    {
      signal (SIGPIPE, SIG_IGN);
      sigaddset (&child_defaults, SIGPIPE);
    }
  /* Whatever mask we were started with, what we catch is let through. */
  sigprocmask (SIG_UNBLOCK, &caught, NULL);
  watch = fd_watch_add (signal_pipe[0], G_IO_IN, on_pipe_readable, NULL);
  return TRUE;
}

void
signals_stop (void)
{
  g_clear_handle_id (&watch, g_source_remove);
}

const sigset_t *
signals_child_defaults (void)
{
  return &child_defaults;
}
