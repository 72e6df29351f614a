/* harness: one run of pipe-harness; see harness.h. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "children.h"
#include "console.h"
#include "emergency.h"
#include "input.h"
#include "match.h"
#include "output.h"
#include "report.h"
#include "script-run.h"
#include "script.h"
#include "signals.h"
#include "stream.h"
#include "test-file.h"

#define STREAM_BUFFER_SIZE (256 * 1024)
/* The stdout pipes of all children together ask for at most this much
 * kernel memory (a user's pipes beyond a limit are cut to one page). */
#define PIPE_BUDGET (16 * 1024 * 1024)
#define PIPE_SIZE_MAX (1024 * 1024)
/* With --exit-after-script, how long children whose input the script's end
 * closed may take to end by themselves before SIGTERM: their own end still
 * counts for the verdict. */
#define SCRIPT_END_GRACE_MS 250
/* After SIGKILL, how long a pipe that some escaped process still holds open
 * is waited for before the harness stops reading it. */
#define ABANDON_DELAY_MS 1000

typedef struct {
  ChildProcess proc;
  char **command;  /* its argv before ${var} expansion */
  ChildInput input;
  Stream *out;
  Stream *err;
  gboolean gone;   /* exited, and all it printed handed out and reported */
  guint gone_seq;  /* the order in which processes went (0: not gone) */
  Pattern *ready;  /* --ready, or NULL */
  gboolean up;     /* started, and its ready line (if any) seen */
  gboolean held;   /* --hold: started by the script */
  gboolean restarting; /* stopped to be started again */
  guint stop_timer;    /* SIGKILL while restarting */
} Child;

typedef struct {
  const HarnessOptions *opt;
  Child *children;
  guint n_children;
  char *dir;
  gboolean made_dir;
  int dir_lock;     /* holds the folder's lock, or -1 */
  Output *output;
  Console console;
  Script *script;
  ScriptRunner *runner;
  gboolean script_over; /* the runner has given its verdict */
  GMainLoop *loop;
  GHashTable *vars;     /* captured by --ready patterns */
  int pipe_size;
  GPtrArray *retired;   /* streams of processes gone, freed at the end */

  guint launching;      /* the next child to start at launch */
  gboolean launched_all; /* every child not held is up */
  int awaited;          /* the child whose ready line is awaited, or -1 */
  guint ready_timer;
  guint gone_count;

  gboolean ending;
  int exit_status;
  gboolean terminating; /* SIGTERM sent */
  gboolean hurry;       /* a second signal: kill now, wait for nothing */
  gboolean done;        /* nothing left to wait for */
  gboolean grace;       /* the script is done: SIGTERM waits a moment */
  guint grace_timer;
  guint kill_timer;
  guint abandon_timer;
  guint run_timer;      /* --timeout */
} Harness;

static void continue_ending (Harness *h);
static gboolean on_grace_over (gpointer data);

static gboolean
child_started (const Child *c)
{
  return c->proc.pid != 0;
}

static gboolean
child_output_ended (const Child *c)
{
  return !child_started (c) || (c->out->eof && c->err->eof);
}

/* The script may still fail or act: it runs, or will once all are up. */
static gboolean
script_active (const Harness *h)
{
  return h->runner != NULL && !h->script_over;
}

static void
stop_script (Harness *h)
{
  if (h->runner != NULL)
    script_runner_stop (h->runner);
  h->script_over = TRUE;
  output_watch_lines (h->output, FALSE);
}

/* The run ends, with this status unless an earlier reason set one. */
static void
harness_end (Harness *h, int status)
{
  if (h->ending)
    return;
  h->ending = TRUE;
  h->exit_status = status;
  stop_script (h);
  g_clear_handle_id (&h->ready_timer, g_source_remove);
  for (guint i = 0; i < h->n_children; i++)
    if (child_started (&h->children[i]))
      child_input_enable_fifo (&h->children[i].input, FALSE);
  continue_ending (h);
}

static void
signal_remaining (Harness *h, int signum)
{
  for (guint i = 0; i < h->n_children; i++)
    {
      Child *c = &h->children[i];
      if (!child_started (c) || child_output_ended (c))
        continue;
      /* An exited child's group may live on in what it started. */
      if (child_process_signal (&c->proc, signum) && !c->proc.exited)
        report_event ("stopping %s (%s)", c->proc.name,
                      signum == SIGKILL ? "SIGKILL" : "SIGTERM");
      /* A stopped process acts on SIGTERM only once continued. */
      if (signum == SIGTERM)
        child_process_signal (&c->proc, SIGCONT);
    }
}

static gboolean
on_abandon_timeout (gpointer data)
{
  Harness *h = data;
  h->abandon_timer = 0;
  for (guint i = 0; i < h->n_children; i++)
    {
      Child *c = &h->children[i];
      if (child_output_ended (c))
        continue;
      report_error ("%s's output is still held open by a process outside its "
                    "group; not waiting for it", c->proc.name);
      stream_abandon (c->out);
      stream_abandon (c->err);
    }
  continue_ending (h);
  return G_SOURCE_REMOVE;
}

static gboolean
on_kill_timeout (gpointer data)
{
  Harness *h = data;
  h->kill_timer = 0;
  signal_remaining (h, SIGKILL);
  h->abandon_timer = g_timeout_add (ABANDON_DELAY_MS, on_abandon_timeout, h);
  return G_SOURCE_REMOVE;
}

static gboolean
on_grace_over (gpointer data)
{
  Harness *h = data;
  h->grace_timer = 0;
  h->grace = FALSE;
  continue_ending (h);
  return G_SOURCE_REMOVE;
}

/* Moves the ending along; called whenever something it waits for happens. */
static void
continue_ending (Harness *h)
{
  if (!h->ending)
    return;
  if (!h->terminating)
    {
      /* First every child that exited has its output read to the end... */
      gboolean all_gone = TRUE;
      for (guint i = 0; i < h->n_children; i++)
        {
          const Child *c = &h->children[i];
          if (c->proc.exited && !c->gone)
            return;
          all_gone &= !child_started (c) || c->gone;
        }
      /* ...after a script, those whose input it closed may end by
       * themselves for a moment (how they end still counts)... */
      if (h->grace && !all_gone)
        {
          if (h->grace_timer == 0)
            h->grace_timer = g_timeout_add (SCRIPT_END_GRACE_MS, on_grace_over, h);
          return;
        }
      /* ...then the others are asked to stop. */
      h->terminating = TRUE;
      signal_remaining (h, SIGTERM);
      h->kill_timer = g_timeout_add (h->opt->kill_timeout_us / 1000,
                                     on_kill_timeout, h);
    }
  for (guint i = 0; i < h->n_children; i++)
    {
      Child *c = &h->children[i];
      if (child_started (c) && (!c->proc.exited || !child_output_ended (c)))
        return;
    }
  if (!h->hurry && !output_idle (h->output) && !output_closed (h->output))
    return;
  h->done = TRUE;
  g_main_loop_quit (h->loop);
}

static gboolean spawn_child (Harness *h, Child *c, GError **error);
static void launch_next (Harness *h);

/* The streams of a process that is gone are freed at the end: a batch
 * being written may still point into their buffers. */
static void
retire_streams (Harness *h, Child *c)
{
  if (c->out != NULL)
    g_ptr_array_add (h->retired, g_steal_pointer (&c->out));
  if (c->err != NULL)
    g_ptr_array_add (h->retired, g_steal_pointer (&c->err));
}

/* The old process of a restarting child is gone: the new one starts. */
static void
finish_restart (Harness *h, Child *c)
{
  g_autoptr (GError) error = NULL;

  c->restarting = FALSE;
  g_clear_handle_id (&c->stop_timer, g_source_remove);
  if (!spawn_child (h, c, &error))
    {
      g_autofree char *why = g_strdup_printf ("%s: cannot start again: %s",
                                              c->proc.name, error->message);
      if (script_active (h))
        script_runner_abort (h->runner, why);
      else
        report_error ("%s", why);
    }
}

/* A child is gone once it has exited and all it printed is handed out. */
static void
check_gone (Harness *h, Child *c)
{
  if (c->gone || !c->proc.exited || !stream_settled (c->out) ||
      !stream_settled (c->err))
    return;
  c->gone = TRUE;
  c->gone_seq = ++h->gone_count;
  emergency_set_group (c->proc.index, 0);
  child_input_detach (&c->input, c->restarting);

  g_autofree char *how = NULL;
  if (c->proc.term_signal != 0)
    how = g_strdup_printf ("was killed by signal %d (%s)", c->proc.term_signal,
                           g_strsignal (c->proc.term_signal));
  else
    how = g_strdup_printf ("exited with status %d", c->proc.status);
  report_event ("%s %s", c->proc.name, how);
  if (h->ending)
    {
      /* After the script passed, an end the harness did not cause still
       * fails the run. */
      if (!h->terminating && h->exit_status == 0 && h->runner != NULL &&
          h->opt->exit_after_script && c->proc.status != 0 &&
          !script_runner_end_asked (h->runner, c->proc.index, c->proc.term_signal))
        {
          report_error ("%s %s after the script, before it was stopped",
                        c->proc.name, how);
          h->exit_status = EXIT_SCRIPT_FAILED;
        }
      return;
    }

  if (c->ready != NULL && !c->up && !h->launched_all)
    {
      report_error ("%s %s before printing a line matching /%s/ (--ready)",
                    c->proc.name, how, pattern_source (c->ready));
      harness_end (h, EXIT_SCRIPT_FAILED);
      return;
    }
  if ((int) c->proc.index == h->awaited)
    {
      h->awaited = -1;
      g_clear_handle_id (&h->ready_timer, g_source_remove);
    }
  if (script_active (h))
    script_runner_child_ended (h->runner, c->proc.index, c->proc.status,
                               c->proc.term_signal);
  if (c->restarting && !h->ending)
    finish_restart (h, c);
}

/* Outside a script, the first child to go ends the run; with --wait-all
 * the last does (one never started counts as gone). */
static void
check_lifecycle (Harness *h)
{
  const Child *first = NULL, *first_failed = NULL;

  if (h->ending || script_active (h) || !h->launched_all)
    return;
  for (guint i = 0; i < h->n_children; i++)
    {
      const Child *c = &h->children[i];
      if (!c->gone)
        {
          /* With --wait-all, one still there is enough to know: this
           * runs at each child's end, and the loop stays short. */
          if (h->opt->wait_all && child_started (c))
            return;
          continue;
        }
      if (first == NULL || c->gone_seq < first->gone_seq)
        first = c;
      if (c->proc.status != 0 && (first_failed == NULL || c->gone_seq < first_failed->gone_seq))
        first_failed = c;
    }
  if (!h->opt->wait_all)
    {
      if (first != NULL)
        harness_end (h, first->proc.status);
      return;
    }
  harness_end (h, first_failed != NULL ? first_failed->proc.status : 0);
}

static void
child_changed (Harness *h, Child *c)
{
  check_gone (h, c);
  check_lifecycle (h);
  continue_ending (h);
}

static void
on_child_exited (gpointer data, ChildProcess *proc)
{
  Harness *h = data;
  Child *c = &h->children[proc->index];
  stream_child_exited (c->out);
  stream_child_exited (c->err);
  child_changed (h, c);
}

static void
on_stream_settled (gpointer data, Stream *stream)
{
  Harness *h = data;
  child_changed (h, &h->children[stream->child]);
}

static gboolean
on_ready_timeout (gpointer data)
{
  Harness *h = data;
  Child *c = &h->children[h->awaited];
  g_autofree char *after = script_format_duration (h->opt->ready_timeout_us);
  g_autofree char *why = g_strdup_printf ("%s printed no line matching /%s/ "
                                          "within %s (--ready)", c->proc.name,
                                          pattern_source (c->ready), after);
  h->ready_timer = 0;
  h->awaited = -1;
  if (script_active (h) && h->launched_all)
    script_runner_abort (h->runner, why);
  else
    {
      report_error ("%s", why);
      harness_end (h, EXIT_SCRIPT_FAILED);
    }
  return G_SOURCE_REMOVE;
}

/* The child is up: the script hears of it, and at launch the next starts. */
static void
child_up (Harness *h, Child *c)
{
  gboolean awaited = (int) c->proc.index == h->awaited;

  c->up = TRUE;
  if (awaited)
    {
      h->awaited = -1;
      g_clear_handle_id (&h->ready_timer, g_source_remove);
    }
  if (script_active (h))
    script_runner_child_ready (h->runner, c->proc.index);
  if (awaited && !h->launched_all)
    launch_next (h);
}

static void
on_output_line (gpointer data, guint child, const char *line, gsize len)
{
  Harness *h = data;
  Child *c = &h->children[child];

  if (script_active (h))
    script_runner_line (h->runner, child, line, len);
  if (c->up || c->ready == NULL || h->ending)
    return;
  g_autoptr (GHashTable) captures = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                           g_free, g_free);
  switch (pattern_match (c->ready, line, len, captures))
    {
    case MATCH_NONE:
      return;
    case MATCH_TOO_COSTLY:
      report_error ("--ready %s: matching /%s/ costs too much on one of its lines",
                    c->proc.name, pattern_source (c->ready));
      harness_end (h, EXIT_SCRIPT_FAILED);
      return;
    case MATCH_FOUND:
      break;
    }
  GHashTableIter iter;
  gpointer name, value;
  g_hash_table_iter_init (&iter, captures);
  while (g_hash_table_iter_next (&iter, &name, &value))
    {
      if (h->runner != NULL)
        script_runner_set_var (h->runner, name, value);
      g_hash_table_insert (h->vars, g_strdup (name), g_strdup (value));
    }
  report_event ("%s is ready", c->proc.name);
  child_up (h, c);
}

static void
on_output_closed (gpointer data, int errnum)
{
  Harness *h = data;
  if (errnum != EPIPE)
    report_error ("cannot write the output: %s", g_strerror (errnum));
  harness_end (h, errnum == EPIPE ? 128 + SIGPIPE : 1);
}

static void
on_output_idle (gpointer data)
{
  continue_ending (data);
}

/* After the script (or at once without one): the FIFOs and our stdin. */
static void
take_interactive_input (Harness *h)
{
  for (guint i = 0; i < h->n_children; i++)
    child_input_enable_fifo (&h->children[i].input, TRUE);
  console_start (&h->console);
}

static gboolean
on_console_send (gpointer data, guint child, const char *text, gsize len)
{
  Harness *h = data;
  g_autoptr (GError) error = NULL;
  if (!child_input_send (&h->children[child].input, text, len, &error))
    report_error ("stdin: %s", error->message);
  return error == NULL;
}

/* Fails unless a process of the child runs. */
static gboolean
check_running (Child *c, GError **error)
{
  if (!child_started (c))
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s has not been started",
                 c->proc.name);
  else if (c->proc.exited)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s has exited",
                 c->proc.name);
  return *error == NULL;
}

static void
on_input_room (gpointer data, guint child)
{
  Harness *h = data;
  if (script_active (h))
    script_runner_input_room (h->runner, child);
}

/* A child that does not read makes the script wait, not the harness's
 * memory grow. */
static gboolean
on_script_send (gpointer data, guint child, const char *text, gsize len,
                GError **error)
{
  Harness *h = data;
  Child *c = &h->children[child];
  if (!check_running (c, error))
    return FALSE;
  if (child_input_full (&c->input))
    {
      child_input_notify_room (&c->input, on_input_room, h);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                   "%s is not reading its input: %u bytes wait for it",
                   c->proc.name, c->input.queue->len);
      return FALSE;
    }
  return child_input_send (&c->input, text, len, error);
}

static gboolean
on_script_start (gpointer data, guint child, GError **error)
{
  Harness *h = data;
  Child *c = &h->children[child];
  if (child_started (c) && !c->gone)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "%s is running", c->proc.name);
      return FALSE;
    }
  return spawn_child (h, c, error);
}

static gboolean
on_script_signal (gpointer data, guint child, int signum, GError **error)
{
  Harness *h = data;
  Child *c = &h->children[child];
  if (!check_running (c, error))
    return FALSE;
  if (!child_process_signal (&c->proc, signum))
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                   "cannot signal %s: %s", c->proc.name, g_strerror (errno));
      return FALSE;
    }
  report_event ("sent SIG%s to %s", script_signal_name (signum), c->proc.name);
  return TRUE;
}

static gboolean
on_stop_timeout (gpointer data)
{
  Child *c = data;
  c->stop_timer = 0;
  if (child_process_signal (&c->proc, SIGKILL))
    report_event ("stopping %s (SIGKILL)", c->proc.name);
  return G_SOURCE_REMOVE;
}

/* Stops the child as at the end of a run; check_gone() starts it again. */
static gboolean
on_script_restart (gpointer data, guint child, GError **error)
{
  Harness *h = data;
  Child *c = &h->children[child];
  if (!child_started (c) || c->gone)
    return spawn_child (h, c, error);
  c->restarting = TRUE;
  report_event ("restarting %s", c->proc.name);
  if (!c->proc.exited && child_process_signal (&c->proc, SIGTERM))
    report_event ("stopping %s (SIGTERM)", c->proc.name);
  c->stop_timer = g_timeout_add (h->opt->kill_timeout_us / 1000, on_stop_timeout, c);
  return TRUE;
}

static void
on_script_close (gpointer data, guint child)
{
  Harness *h = data;
  child_input_close (&h->children[child].input);
}

/* The commands a person can type, ":STEP …": the steps that act at once. */
#define CONSOLE_COMMANDS "send, write, close, start, signal, restart"

static const char *
lookup_capture (const char *name, gpointer data)
{
  Harness *h = data;
  const char *value = g_hash_table_lookup (h->vars, name);
  return value != NULL ? value : g_getenv (name);
}

/* A line typed as ":STEP …" runs that step at once; its result is an
 * event, or an error. */
static void
on_console_command (gpointer data, const char *command)
{
  Harness *h = data;
  g_autoptr (GError) error = NULL;
  g_autofree GStrv vars = (GStrv) g_hash_table_get_keys_as_array (h->vars, NULL);

  g_autofree char *word = g_strstrip (g_strdup (command));
  if (strcmp (word, "help") == 0 || *word == '\0')
    {
      g_printerr ("pipe-harness: commands typed on stdin:\n"
                  "  :send NAME TEXT      TEXT and a newline to NAME\n"
                  "  :write NAME TEXT     TEXT with C escapes (\\x03 is ^C), no newline\n"
                  "  :close NAME          end-of-file on NAME's input\n"
                  "  :start NAME          start NAME (held, or exited)\n"
                  "  :signal NAME SIG     send SIG (TERM, INT, HUP, USR1, STOP, CONT…) to NAME\n"
                  "  :restart NAME        stop NAME and start it again\n"
                  "  :help                this list\n"
                  "  ::text               the line \":text\", as any other line\n");
      return;
    }
  g_autoptr (Script) script = script_parse ("stdin", command, strlen (command),
                                            (const char *const *) h->opt->names,
                                            (const char *const *) vars, &error);
  if (script == NULL)
    {
      report_error ("%s (see :help)", error->message);
      return;
    }
  if (script->steps->len != 1)
    return; /* a comment */
  const ScriptStep *step = g_ptr_array_index (script->steps, 0);
  Child *c = &h->children[step->child];
  g_autoptr (GString) text = g_string_new (NULL);
  switch (step->kind)
    {
    case STEP_SEND:
    case STEP_WRITE:
      if (script_expand (step->text, step->kind == STEP_WRITE ? EXPAND_ESCAPES : EXPAND_PLAIN,
                         lookup_capture, h, text, &error))
        {
          if (step->kind == STEP_SEND)
            g_string_append_c (text, '\n');
          on_script_send (h, step->child, text->str, text->len, &error);
        }
      break;
    case STEP_CLOSE:
      if (check_running (c, &error))
        {
          child_input_close (&c->input);
          report_event ("closed %s's input", c->proc.name);
        }
      break;
    case STEP_START:
      on_script_start (h, step->child, &error);
      break;
    case STEP_SIGNAL:
      on_script_signal (h, step->child, step->signum, &error);
      break;
    case STEP_RESTART:
      on_script_restart (h, step->child, &error);
      break;
    default:
      g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "not a command here (the commands are " CONSOLE_COMMANDS ", help)");
      break;
    }
  if (error != NULL)
    report_error ("stdin: %s: %s", step->source, error->message);
}

static void
on_script_finished (gpointer data, const char *failure)
{
  Harness *h = data;

  h->script_over = TRUE;
  output_watch_lines (h->output, FALSE);
  if (failure != NULL)
    {
      g_auto (GStrv) lines = g_strsplit (failure, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        report_error ("%s", lines[i]);
      harness_end (h, EXIT_SCRIPT_FAILED);
      return;
    }
  report_event ("script %s done", h->script->path);
  if (h->opt->exit_after_script)
    {
      for (guint i = 0; i < h->n_children; i++)
        child_input_close (&h->children[i].input);
      h->grace = TRUE;
      harness_end (h, 0);
      return;
    }
  take_interactive_input (h);
  check_lifecycle (h);
}

static void
on_child_stopped (gpointer data, ChildProcess *proc, int signum)
{
  (void) data;
  /* SIGSTOP is sent on purpose: by us on Ctrl-Z, or by someone who knows. */
  if (signum == SIGTTIN)
    report_error ("%s was stopped by SIGTTIN: it tried to read the terminal", proc->name);
  else if (signum == SIGTTOU)
    report_error ("%s was stopped by SIGTTOU: it tried to write to the terminal or "
                  "change its settings", proc->name);
  else if (signum != SIGSTOP)
    report_error ("%s was stopped by %s", proc->name, sigabbrev_np (signum));
}

/* Every child's process group, whatever is left of it. */
static void
signal_children (Harness *h, int signum)
{
  for (guint i = 0; i < h->n_children; i++)
    if (child_started (&h->children[i]))
      child_process_signal (&h->children[i].proc, signum);
}

/* The children go on with us (fg or bg), and the terminal is read again if
 * we are in its foreground. */
static void
resume (Harness *h)
{
  signal_children (h, SIGCONT);
  console_check_foreground (&h->console);
}

/* Ctrl-Z: the terminal stops only its foreground process group, ours; the
 * children, each in a group of its own, are stopped with us. */
static void
suspend (Harness *h)
{
  signal_children (h, SIGSTOP);
  raise (SIGSTOP);
  resume (h);
}

static void
on_signal (gpointer data, int signum)
{
  Harness *h = data;
  if (signum == SIGCHLD)
    {
      for (guint i = 0; i < h->n_children; i++)
        child_process_poll (&h->children[i].proc);
      return;
    }
  if (signum == SIGTSTP || signum == SIGCONT)
    {
      (signum == SIGTSTP ? suspend : resume) (h);
      return;
    }
  if (!h->ending)
    {
      report_event ("got %s; stopping", g_strsignal (signum));
      harness_end (h, 128 + signum);
      return;
    }
  /* Asked twice: kill everything now and wait for nothing. */
  h->hurry = TRUE;
  h->terminating = TRUE;
  g_clear_handle_id (&h->kill_timer, g_source_remove);
  signal_remaining (h, SIGKILL);
  for (guint i = 0; i < h->n_children; i++)
    if (child_started (&h->children[i]))
      {
        stream_abandon (h->children[i].out);
        stream_abandon (h->children[i].err);
      }
  continue_ending (h);
}

/* ------------------------------------------------------------------ */
/* Setting up */

static const char *
fifo_path_option (const HarnessOptions *opt, const char *name)
{
  gsize len = strlen (name);
  for (guint i = 0; opt->fifos != NULL && opt->fifos[i] != NULL; i++)
    if (strncmp (opt->fifos[i], name, len) == 0 && opt->fifos[i][len] == '=')
      return opt->fifos[i] + len + 1;
  return NULL;
}

/* Whether error says that our own open files ran out (the FIFOs' folder
 * reports it as a G_IO_ERROR). */
static gboolean
is_out_of_files (const GError *error)
{
  return g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_MFILE) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
}

/* Whether error says that a resource ran out: open files or processes. */
static gboolean
is_shortage (const GError *error)
{
  return is_out_of_files (error) ||
         g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NFILE) ||
         g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_AGAIN);
}

/* If error says that a resource ran out, its message becomes one line
 * saying which, and that child name cannot start; else FALSE. */
static gboolean
explain_shortage (GError *error, const char *name)
{
  g_autofree char *what = NULL;
  struct rlimit nofile;

  if (!is_shortage (error))
    return FALSE;
  if (is_out_of_files (error))
    what = getrlimit (RLIMIT_NOFILE, &nofile) == 0
             ? g_strdup_printf ("too many open files (limit %llu)",
                                (unsigned long long) nofile.rlim_cur)
             : g_strdup ("too many open files");
  else if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NFILE))
    what = g_strdup ("too many open files in the system");
  else
    what = g_strdup ("too many processes");
  g_free (error->message);
  error->message = g_strdup_printf ("%s: cannot start child %s", what, name);
  return TRUE;
}

static gboolean
open_fifos (Harness *h, GError **error)
{
  if (h->opt->fifo_dir != NULL)
    {
      g_autofree char *what = g_strconcat ("--fifo-dir ", h->opt->fifo_dir, NULL);
      h->dir = g_strdup (h->opt->fifo_dir);
      if (!fifo_dir_prepare (h->dir, &h->made_dir, error) ||
          (h->dir_lock = fifo_dir_lock (h->dir, what, error)) < 0)
        return FALSE;
    }
  else
    {
      h->dir = fifo_dir_make_private (error);
      if (h->dir == NULL)
        return FALSE;
      h->made_dir = TRUE;
      if ((h->dir_lock = fifo_dir_lock (h->dir, h->dir, error)) < 0)
        return FALSE;
    }
  if (h->made_dir)
    emergency_set_path (h->n_children, h->dir, TRUE);
  for (guint i = 0; i < h->n_children; i++)
    {
      Child *c = &h->children[i];
      const char *given = fifo_path_option (h->opt, c->proc.name);
      g_autofree char *path = given ? g_strdup (given)
                                    : g_build_filename (h->dir, c->proc.name, NULL);
      if (!input_fifo_open (&c->input.fifo, path, error))
        {
          explain_shortage (*error, c->proc.name);
          return FALSE;
        }
      if (c->input.fifo.made)
        emergency_set_path (i, path, FALSE);
    }
  return TRUE;
}

/* What ${NAME} in a child's command stands for: a capture of a --ready
 * pattern, else one of the child's own variables (--env, PORT), else the
 * environment's. */
typedef struct {
  GHashTable *captures;
  char **env;
} CommandVars;

static const char *
lookup_command_var (const char *name, gpointer data)
{
  CommandVars *vars = data;
  const char *value = g_hash_table_lookup (vars->captures, name);
  if (value == NULL)
    value = g_environ_getenv (vars->env, name);
  return value != NULL ? value : g_getenv (name);
}

/* With --shell, the shell expands what is not a capture, ${X:-default}
 * and all: only captures are replaced here, and "$${" becomes "${". */
static char *
expand_for_shell (const char *text, GHashTable *captures)
{
  GString *out = g_string_new (NULL);
  for (const char *p = text; *p != '\0';)
    {
      if (g_str_has_prefix (p, "$${"))
        {
          g_string_append (out, "${");
          p += 3;
          continue;
        }
      const char *close = g_str_has_prefix (p, "${") ? strchr (p, '}') : NULL;
      g_autofree char *name = close ? g_strndup (p + 2, close - p - 2) : NULL;
      const char *value = name ? g_hash_table_lookup (captures, name) : NULL;
      if (value != NULL)
        {
          g_string_append (out, value);
          p = close + 1;
        }
      else
        g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

/* The child's command with its variables: captures holds the values known
 * now (or, when checking, the names that will be). */
static char **
expand_command (Harness *h, Child *c, GHashTable *captures, GError **error)
{
  g_autoptr (GStrvBuilder) argv = g_strv_builder_new ();
  CommandVars vars = { captures, c->proc.env };

  for (guint i = 0; c->command[i] != NULL; i++)
    {
      g_autoptr (GString) arg = g_string_new (NULL);
      g_autoptr (GError) local = NULL;
      if (h->opt->shell)
        {
          g_autofree char *expanded = expand_for_shell (c->command[i], captures);
          g_string_append (arg, expanded);
        }
      else if (!script_expand (c->command[i], EXPAND_PLAIN, lookup_command_var, &vars,
                               arg, &local))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: %s",
                       c->proc.name, local->message);
          return NULL;
        }
      g_strv_builder_add (argv, arg->str);
    }
  return g_strv_builder_end (argv);
}

static void
on_terminal_output (gpointer data, gpointer stream)
{
  (void) stream;
  child_input_terminal_output (data);
}

/* Starts a process of the child: its command with ${var} expanded now. */
static gboolean
spawn_child (Harness *h, Child *c, GError **error)
{
  ChildPipes pipes;
  char **argv = expand_command (h, c, h->vars, error);

  if (argv == NULL)
    return FALSE;
  g_strfreev (c->proc.argv);
  c->proc.argv = argv;

  retire_streams (h, c);
  child_process_reset (&c->proc);
  c->proc.on_exited = on_child_exited;
  c->proc.on_stopped = on_child_stopped;
  c->proc.on_exited_data = h;
  if (!child_process_spawn (&c->proc, h->dir, h->pipe_size, &pipes, error))
    return FALSE;

  emergency_set_group (c->proc.index, c->proc.pid);
  c->gone = FALSE;
  c->gone_seq = 0;
  c->up = FALSE;
  StreamSink *sink = output_sink (h->output);
  guint index = c->proc.index;
  const char *name = c->proc.name;
  c->out = stream_new (sink, output_mark (h->output, index, name, STREAM_STDOUT), index, name,
                       STREAM_STDOUT, pipes.stdout_fd, STREAM_BUFFER_SIZE, on_stream_settled, h);
  c->err = stream_new (sink, output_mark (h->output, index, name, STREAM_STDERR), index, name,
                       STREAM_STDERR, pipes.stderr_fd, STREAM_BUFFER_SIZE, on_stream_settled, h);
  child_input_attach (&c->input, pipes.stdin_fd, c->proc.pty, c->out, c->err);
  if (c->proc.pty)
    stream_set_read_hook (c->out, on_terminal_output, &c->input);
  const char *command = h->opt->commands[c->proc.index];
  g_autofree char *expanded = strstr (command, "${") != NULL
    ? g_strjoinv (" ", h->opt->shell ? c->proc.argv + 2 : c->proc.argv) : NULL;
  report_event ("%s started (pid %d): %s", c->proc.name, (int) c->proc.pid,
                expanded != NULL ? expanded : command);
  if (script_active (h))
    script_runner_child_started (h->runner, c->proc.index);
  if (c->ready == NULL)
    child_up (h, c);
  else
    {
      g_clear_handle_id (&h->ready_timer, g_source_remove);
      h->awaited = c->proc.index;
      h->ready_timer = g_timeout_add (h->opt->ready_timeout_us / 1000, on_ready_timeout, h);
    }
  return TRUE;
}

/* All children not held are up: the script starts, or interactive input. */
static void
launched (Harness *h)
{
  h->launched_all = TRUE;
  if (h->runner != NULL)
    script_runner_start (h->runner);
  else
    {
      output_watch_lines (h->output, FALSE);
      take_interactive_input (h);
    }
  check_lifecycle (h);
}

/* Starts the children in order; one with a ready pattern holds back the
 * rest until child_up() calls this again. */
static void
launch_next (Harness *h)
{
  while (h->launching < h->n_children && !h->ending)
    {
      Child *c = &h->children[h->launching++];
      g_autoptr (GError) error = NULL;
      if (c->held)
        continue;
      if (!spawn_child (h, c, &error))
        {
          if (explain_shortage (error, c->proc.name))
            report_error ("%s", error->message);
          else
            report_error ("%s: cannot start: %s", c->proc.name, error->message);
          harness_end (h, EXIT_CANNOT_START);
          return;
        }
      if (!c->up)
        return; /* its ready line is awaited */
    }
  if (!h->ending)
    launched (h);
}

/* --ready NAME=/REGEX/: each pattern compiled; the names of their groups,
 * in order, are variables for the script. */
static gboolean
compile_ready (Harness *h, GStrvBuilder *vars, GError **error)
{
  for (guint i = 0; h->opt->ready != NULL && h->opt->ready[i] != NULL; i++)
    {
      const char *entry = h->opt->ready[i];
      const char *eq = strchr (entry, '=');
      gsize len = eq != NULL ? strlen (eq) : 0;
      if (eq == NULL || len < 3 || eq[1] != '/' || eq[len - 1] != '/')
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--ready %s: expected NAME=/REGEX/", entry);
          return FALSE;
        }
      Child *c = NULL;
      for (guint j = 0; j < h->n_children; j++)
        if (strncmp (h->children[j].proc.name, entry, eq - entry) == 0 &&
            h->children[j].proc.name[eq - entry] == '\0')
          c = &h->children[j];
      if (c == NULL)
        {
          g_autofree char *known = g_strjoinv (", ", h->opt->names);
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--ready %s: there is no child named '%.*s' (the children are %s)",
                       entry, (int) (eq - entry), entry, known);
          return FALSE;
        }
      g_autofree char *source = g_strndup (eq + 2, len - 3);
      g_autoptr (GError) local = NULL;
      g_clear_pointer (&c->ready, pattern_free);
      c->ready = pattern_new (source, &local);
      if (c->ready == NULL)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "--ready %s: %s", entry, local->message);
          return FALSE;
        }
      const char *const *groups = pattern_group_names (c->ready);
      for (guint g = 0; groups[g] != NULL; g++)
        g_strv_builder_add (vars, groups[g]);
    }
  return TRUE;
}

/* Every ${var} of a command must be captured by the ready pattern of a
 * child started before it, be one of its own variables, or be in the
 * environment. */
static gboolean
check_commands (Harness *h, GError **error)
{
  g_autoptr (GHashTable) known = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < h->n_children; i++)
    {
      Child *c = &h->children[i];
      g_autoptr (GError) local = NULL;
      g_auto (GStrv) argv = expand_command (h, c, known, &local);
      if (argv == NULL)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "%s (a variable of a command comes from the --ready "
                       "pattern of a child before it, or the environment)",
                       local->message);
          return FALSE;
        }
      const char *const *groups = c->ready ? pattern_group_names (c->ready) : NULL;
      for (guint g = 0; groups != NULL && groups[g] != NULL; g++)
        g_hash_table_insert (known, (gpointer) groups[g], (gpointer) "");
    }
  return TRUE;
}

/* --timeout: the run took too long.  A script fails, with what every
 * child printed last; without one, the run ends as failed all the same. */
static gboolean
on_run_timeout (gpointer data)
{
  Harness *h = data;
  g_autofree char *limit = g_strdup_printf ("%.3g s", (double) h->opt->timeout_us / G_USEC_PER_SEC);
  g_autofree char *why = g_strdup_printf ("the %s did not finish within %s",
                                          h->opt->script_is_test_file ? "test" : "run", limit);

  h->run_timer = 0;
  if (h->ending)
    return G_SOURCE_REMOVE;
  if (script_active (h))
    script_runner_abort_all (h->runner, why);
  else
    {
      report_error ("%s", why);
      harness_end (h, EXIT_SCRIPT_FAILED);
    }
  return G_SOURCE_REMOVE;
}

static int
start (Harness *h)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GStrvBuilder) vars_builder = g_strv_builder_new ();

  if (!compile_ready (h, vars_builder, &error))
    {
      report_error ("%s", error->message);
      return EXIT_USAGE;
    }
  g_auto (GStrv) vars = g_strv_builder_end (vars_builder);
  if (h->opt->script != NULL)
    {
      h->script = (h->opt->script_is_test_file ? test_file_load_steps : script_load)
        (h->opt->script, (const char *const *) h->opt->names,
         (const char *const *) vars, &error);
      if (h->script == NULL)
        {
          report_error ("%s", error->message);
          return EXIT_USAGE;
        }
    }
  for (guint i = 0; i < h->n_children; i++)
    {
      Child *c = &h->children[i];
      if (!child_process_prepare (&c->proc, h->opt->commands[i], h->opt->shell, &error))
        {
          report_error ("%s", error->message);
          return g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT)
                   ? EXIT_CANNOT_START : EXIT_USAGE;
        }
      c->command = g_steal_pointer (&c->proc.argv);
    }
  if (!check_commands (h, &error))
    {
      report_error ("%s", error->message);
      return EXIT_USAGE;
    }
  if (!open_fifos (h, &error))
    {
      report_error ("%s", error->message);
      return is_shortage (error) ? EXIT_CANNOT_START : EXIT_USAGE;
    }
  for (guint i = 0; i < h->n_children; i++)
    {
      Child *c = &h->children[i];
      child_input_init (&c->input, i, c->proc.name, h->output);
      report_event ("%s reads its input from %s", c->proc.name, c->input.fifo.path);
    }

  h->pipe_size = CLAMP (PIPE_BUDGET / (int) h->n_children, 64 * 1024, PIPE_SIZE_MAX);
  if (h->script != NULL)
    {
      static const ScriptHooks hooks = {
        .send = on_script_send,
        .close_input = on_script_close,
        .start = on_script_start,
        .signal = on_script_signal,
        .restart = on_script_restart,
        .finished = on_script_finished,
      };
      h->runner = script_runner_new (h->script, (const char *const *) h->opt->names,
                                     h->vars, h->opt->match_max, &hooks, h);
      for (guint i = 0; i < h->n_children; i++)
        if (!h->children[i].proc.pty)
          {
            g_autofree char *hint = g_strdup_printf (
              "its stdout is a pipe, so it may be keeping its output in its own "
              "buffer: try --pty=%s, or make it flush (stdbuf -oL, python3 -u)",
              h->children[i].proc.name);
            script_runner_set_silence_hint (h->runner, i, hint);
          }
    }
  output_watch_lines (h->output, h->runner != NULL || h->opt->ready != NULL);
  if (h->opt->timeout_us > 0)
    h->run_timer = g_timeout_add (h->opt->timeout_us / 1000, on_run_timeout, h);
  launch_next (h);
  return -1;
}

static void
clean_up (Harness *h)
{
  /* From here on a message could wait for a batch that never comes. */
  output_stop_showing_events (h->output);
  emergency_clear ();
  signals_stop ();
  console_clear (&h->console);
  g_clear_handle_id (&h->kill_timer, g_source_remove);
  g_clear_handle_id (&h->grace_timer, g_source_remove);
  g_clear_handle_id (&h->abandon_timer, g_source_remove);
  g_clear_handle_id (&h->ready_timer, g_source_remove);
  g_clear_handle_id (&h->run_timer, g_source_remove);
  g_clear_pointer (&h->runner, script_runner_free);
  g_clear_pointer (&h->script, script_free);
  for (guint i = 0; i < h->n_children; i++)
    {
      Child *c = &h->children[i];
      g_clear_handle_id (&c->stop_timer, g_source_remove);
      retire_streams (h, c);
      if (c->input.queue != NULL)
        child_input_clear (&c->input);
      else
        input_fifo_close (&c->input.fifo);
      child_process_clear (&c->proc);
      g_strfreev (c->command);
      g_clear_pointer (&c->ready, pattern_free);
    }
  g_ptr_array_unref (h->retired);
  g_hash_table_unref (h->vars);
  if (h->made_dir && h->dir != NULL && g_rmdir (h->dir) != 0)
    report_error ("cannot remove %s: %s", h->dir, g_strerror (errno));
  if (h->dir_lock >= 0)
    close (h->dir_lock);
  g_free (h->dir);
  report_set_sink (NULL, NULL);
  g_clear_pointer (&h->output, output_free);
  g_clear_pointer (&h->loop, g_main_loop_unref);
  g_free (h->children);
}

static gboolean
on_report (gpointer data, ReportKind kind, gboolean show, const char *text)
{
  (void) kind;
  return output_event (data, text, show);
}

static guint
index_of (char **names, const char *name)
{
  guint i = 0;
  while (strcmp (names[i], name) != 0)
    i++;
  return i;
}

/* The transcript is appended to, never truncated: no earlier log is lost.
 * It is written without waiting (the description is ours alone, even for
 * a FIFO), so a log that is slow to read never holds the run up. */
static int
open_log (const char *path)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      report_error ("--log %s: %s", path, g_strerror (errno));
      return -1;
    }
  return fd;
}

int
harness_run (const HarnessOptions *opt)
{
  static const OutputHooks output_hooks = {
    .line = on_output_line,
    .closed = on_output_closed,
    .idle = on_output_idle,
  };
  Harness harness = { .opt = opt, .awaited = -1, .dir_lock = -1 };
  Harness *h = &harness;
  OutputFormat format = {
    .timestamps = opt->timestamps,
    .color = opt->color && !opt->json,
    .json = opt->json,
    .merge_stderr = opt->merge_stderr,
    .log_fd = -1,
  };

  if (opt->log != NULL && (format.log_fd = open_log (opt->log)) < 0)
    return EXIT_USAGE;
  h->n_children = g_strv_length (opt->commands);
  h->children = g_new0 (Child, h->n_children);
  h->vars = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  emergency_init (h->n_children, h->n_children + 1);
  h->retired = g_ptr_array_new_with_free_func ((GDestroyNotify) stream_free);
  for (guint i = 0; i < h->n_children; i++)
    {
      h->children[i].proc.index = i;
      h->children[i].proc.name = opt->names[i];
      h->children[i].proc.pty = opt->pty_all ||
        (opt->pty != NULL && g_strv_contains ((const char *const *) opt->pty, opt->names[i]));
      h->children[i].input.fifo.read_fd = h->children[i].input.fifo.keep_fd = -1;
      h->children[i].held = opt->hold != NULL &&
        g_strv_contains ((const char *const *) opt->hold, opt->names[i]);
      h->children[i].proc.env = g_strdupv (opt->env);
      if (opt->port_base > 0)
        {
          g_autofree char *port = g_strdup_printf ("%d", opt->port_base + 100 * (int) i);
          h->children[i].proc.env = g_environ_setenv (h->children[i].proc.env, "PORT",
                                                      port, TRUE);
        }
    }

  h->loop = g_main_loop_new (NULL, FALSE);
  h->output = output_new (STDOUT_FILENO, &format, &output_hooks, h);
  report_set_sink (on_report, h->output);
  console_init (&h->console, STDIN_FILENO, (const char *const *) opt->names,
                opt->stdin_target ? (int) index_of (opt->names, opt->stdin_target) : -1,
                on_console_send, on_console_command, h);
  g_autoptr (GError) error = NULL;
  if (!signals_start (on_signal, h, &error))
    {
      report_error ("%s", error->message);
      clean_up (h);
      return EXIT_CANNOT_START;
    }

  int status = start (h);
  if (status == -1)
    {
      if (!h->done)
        g_main_loop_run (h->loop);
      status = h->exit_status;
    }
  clean_up (h);
  return status;
}
