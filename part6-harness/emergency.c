/* emergency: undoing what the harness made when it crashes; see
 * emergency.h. */
#include "emergency.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *volatile path;
  volatile sig_atomic_t is_dir;
} Path;

static const int crash_signals[] = { SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP };

static volatile pid_t *groups;
static guint n_groups;
static Path *paths;
static guint n_paths;

static void
on_crash (int signum)
{
  for (guint i = 0; i < n_groups; i++)
    if (groups[i] > 0)
      kill (-groups[i], SIGKILL);
  /* FIFOs first, then the folder that held them. */
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < n_paths; i++)
      {
        char *path = paths[i].path;
        if (path == NULL || paths[i].is_dir != pass)
          continue;
        if (pass == 0)
          unlink (path);
        else
          rmdir (path);
      }
  /* The handler was reset by SA_RESETHAND: the signal now does what it
   * would have done. */
  raise (signum);
}

void
emergency_init (guint max_groups, guint max_paths)
{
  struct sigaction action = { .sa_handler = on_crash, .sa_flags = SA_RESETHAND | SA_NODEFER };

  groups = g_new0 (pid_t, max_groups);
  n_groups = max_groups;
  paths = g_new0 (Path, max_paths);
  n_paths = max_paths;
  sigemptyset (&action.sa_mask);
  for (guint i = 0; i < G_N_ELEMENTS (crash_signals); i++)
    sigaction (crash_signals[i], &action, NULL);
}

void
emergency_clear (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (crash_signals); i++)
    signal (crash_signals[i], SIG_DFL);
  for (guint i = 0; i < n_paths; i++)
    g_free (paths[i].path);
  n_groups = n_paths = 0;
  g_clear_pointer ((pid_t **) &groups, g_free);
  g_clear_pointer (&paths, g_free);
}

void
emergency_set_group (guint slot, pid_t pgid)
{
  g_assert (slot < n_groups);
  groups[slot] = pgid;
}

void
emergency_set_path (guint slot, const char *path, gboolean is_dir)
{
  g_assert (slot < n_paths);
  emergency_clear_path (slot);
  paths[slot].is_dir = is_dir;
  paths[slot].path = g_strdup (path); /* published whole, in one store */
}

void
emergency_clear_path (guint slot)
{
  g_assert (slot < n_paths);
  char *old = paths[slot].path;
  paths[slot].path = NULL;
  g_free (old);
}
