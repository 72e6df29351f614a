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
#include "input.h"
#include "output.h"
#include "report.h"
#include "script.h"
#include "stream.h"

#define STREAM_BUFFER_SIZE (256 * 1024)
/* The stdout pipes of all children together ask for at most this much
 * kernel memory (a user's pipes beyond a limit are cut to one page). */
#define PIPE_BUDGET (16 * 1024 * 1024)
#define PIPE_SIZE_MAX (1024 * 1024)
/* After SIGKILL, how long a pipe that some escaped process still holds open
 * is waited for before the harness stops reading it. */
#define ABANDON_DELAY_MS 1000

typedef struct {
  ChildProcess proc;
  ChildInput input;
  Stream *out;
  Stream *err;
  gboolean gone; /* exited, and all it printed handed out and reported */
} Child;

typedef struct {
  const HarnessOptions *opt;
  Child *children;
  guint n_children;
  char *dir;
  gboolean made_dir;
  Output *output;
  Console console;
  Script *script;
  ScriptRunner *runner;
  GMainLoop *loop;
  guint signal_watches[3];

  int first_gone;   /* the first child to exit, or -1 */
  int first_failed; /* the first child to exit non-zero, or -1 */

  gboolean ending;
  int exit_status;
  gboolean terminating; /* SIGTERM sent */
  gboolean hurry;       /* a second signal: kill now, wait for nothing */
  gboolean done;        /* nothing left to wait for */
  guint kill_timer;
  guint abandon_timer;
} Harness;

static void continue_ending (Harness *h);

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

static void
stop_script (Harness *h)
{
  if (h->runner != NULL && script_runner_running (h->runner))
    script_runner_stop (h->runner);
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

/* Moves the ending along; called whenever something it waits for happens. */
static void
continue_ending (Harness *h)
{
  if (!h->ending)
    return;
  if (!h->terminating)
    {
      /* First every child that exited has its output read to the end... */
      for (guint i = 0; i < h->n_children; i++)
        if (h->children[i].proc.exited && !h->children[i].gone)
          return;
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

/* A child is gone once it has exited and all it printed is handed out. */
static void
check_gone (Harness *h, Child *c)
{
  if (c->gone || !c->proc.exited || !stream_settled (c->out) ||
      !stream_settled (c->err))
    return;
  c->gone = TRUE;

  g_autofree char *how = NULL;
  if (c->proc.term_signal != 0)
    how = g_strdup_printf ("was killed by signal %d (%s)", c->proc.term_signal,
                           g_strsignal (c->proc.term_signal));
  else
    how = g_strdup_printf ("exited with status %d", c->proc.status);
  report_event ("%s %s", c->proc.name, how);

  if (!h->ending)
    {
      if (h->first_gone < 0)
        h->first_gone = c->proc.index;
      if (c->proc.status != 0 && h->first_failed < 0)
        h->first_failed = c->proc.index;
      if (h->runner != NULL && script_runner_running (h->runner))
        script_runner_child_gone (h->runner, c->proc.index, how);
    }
}

/* Outside a script, the first child to go ends the run; with --wait-all
 * the last does. */
static void
check_lifecycle (Harness *h)
{
  if (h->ending || (h->runner != NULL && script_runner_running (h->runner)))
    return;
  if (!h->opt->wait_all)
    {
      if (h->first_gone >= 0)
        harness_end (h, h->children[h->first_gone].proc.status);
      return;
    }
  for (guint i = 0; i < h->n_children; i++)
    if (!h->children[i].gone)
      return;
  harness_end (h, h->first_failed >= 0 ? h->children[h->first_failed].proc.status : 0);
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

static void
on_output_line (gpointer data, guint child, const char *line, gsize len)
{
  Harness *h = data;
  script_runner_line (h->runner, child, line, len);
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

static gboolean
on_script_send (gpointer data, guint child, const char *text, gsize len,
                GError **error)
{
  Harness *h = data;
  Child *c = &h->children[child];
  if (c->proc.exited)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s has exited",
                   c->proc.name);
      return FALSE;
    }
  return child_input_send (&c->input, text, len, error);
}

static void
on_script_close (gpointer data, guint child)
{
  Harness *h = data;
  child_input_close (&h->children[child].input);
}

static void
on_script_finished (gpointer data, const char *failure)
{
  Harness *h = data;

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
      harness_end (h, 0);
      return;
    }
  take_interactive_input (h);
  check_lifecycle (h);
}

static gboolean
on_signal (gpointer data, int signum)
{
  Harness *h = data;
  if (!h->ending)
    {
      report_event ("got %s; stopping", g_strsignal (signum));
      harness_end (h, 128 + signum);
      return G_SOURCE_CONTINUE;
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
  return G_SOURCE_CONTINUE;
}

#define SIGNAL_HANDLER(sig)                                                    \
  static gboolean on_##sig (gpointer data) { return on_signal (data, sig); }
SIGNAL_HANDLER (SIGINT)
SIGNAL_HANDLER (SIGTERM)
SIGNAL_HANDLER (SIGHUP)

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

/* Whether error says that a resource ran out: open files or processes. */
static gboolean
is_shortage (const GError *error)
{
  return g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_MFILE) ||
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
  if (error->code == G_FILE_ERROR_MFILE)
    what = getrlimit (RLIMIT_NOFILE, &nofile) == 0
             ? g_strdup_printf ("too many open files (limit %llu)",
                                (unsigned long long) nofile.rlim_cur)
             : g_strdup ("too many open files");
  else if (error->code == G_FILE_ERROR_NFILE)
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
      h->dir = g_strdup (h->opt->fifo_dir);
      if (!fifo_dir_prepare (h->dir, &h->made_dir, error))
        return FALSE;
    }
  else
    {
      h->dir = fifo_dir_make_private (error);
      if (h->dir == NULL)
        return FALSE;
      h->made_dir = TRUE;
    }
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
    }
  return TRUE;
}

static gboolean
start_child (Harness *h, Child *c, int pipe_size, GError **error)
{
  ChildPipes pipes;

  c->proc.on_exited = on_child_exited;
  c->proc.on_exited_data = h;
  if (!child_process_spawn (&c->proc, h->dir, pipe_size, &pipes, error))
    return FALSE;

  c->out = stream_new (h->output, c->proc.index, c->proc.name, STREAM_STDOUT,
                       pipes.stdout_fd, STREAM_BUFFER_SIZE, on_stream_settled, h);
  c->err = stream_new (h->output, c->proc.index, c->proc.name, STREAM_STDERR,
                       pipes.stderr_fd, STREAM_BUFFER_SIZE, on_stream_settled, h);
  child_input_init (&c->input, c->proc.name, pipes.stdin_fd, c->proc.pty, h->output);
  report_event ("%s started (pid %d): %s", c->proc.name, (int) c->proc.pid,
                h->opt->commands[c->proc.index]);
  report_event ("%s reads its input from %s", c->proc.name, c->input.fifo.path);
  return TRUE;
}

static int
start (Harness *h)
{
  g_autoptr (GError) error = NULL;

  if (h->opt->script != NULL)
    {
      h->script = script_load (h->opt->script, (const char *const *) h->opt->names,
                               &error);
      if (h->script == NULL)
        {
          report_error ("%s", error->message);
          return EXIT_USAGE;
        }
    }
  for (guint i = 0; i < h->n_children; i++)
    if (!child_process_prepare (&h->children[i].proc, h->opt->commands[i],
                                h->opt->shell, &error))
      {
        report_error ("%s", error->message);
        return g_error_matches (error, G_SPAWN_ERROR, G_SPAWN_ERROR_NOENT)
                 ? EXIT_CANNOT_START : EXIT_USAGE;
      }
  if (!open_fifos (h, &error))
    {
      report_error ("%s", error->message);
      return is_shortage (error) ? EXIT_CANNOT_START : EXIT_USAGE;
    }

  int pipe_size = CLAMP (PIPE_BUDGET / (int) h->n_children, 64 * 1024, PIPE_SIZE_MAX);
  for (guint i = 0; i < h->n_children; i++)
    if (!start_child (h, &h->children[i], pipe_size, &error))
      {
        if (explain_shortage (error, h->children[i].proc.name))
          report_error ("%s", error->message);
        else
          report_error ("%s: cannot start: %s", h->children[i].proc.name,
                        error->message);
        harness_end (h, EXIT_CANNOT_START);
        return -1;
      }

  if (h->script != NULL)
    {
      static const ScriptHooks hooks = {
        .send = on_script_send,
        .close_input = on_script_close,
        .finished = on_script_finished,
      };
      h->runner = script_runner_new (h->script, (const char *const *) h->opt->names,
                                     &hooks, h);
      output_watch_lines (h->output, TRUE);
      script_runner_start (h->runner);
    }
  else
    take_interactive_input (h);
  return -1;
}

static void
clean_up (Harness *h)
{
  for (guint i = 0; i < G_N_ELEMENTS (h->signal_watches); i++)
    g_clear_handle_id (&h->signal_watches[i], g_source_remove);
  console_clear (&h->console);
  g_clear_handle_id (&h->kill_timer, g_source_remove);
  g_clear_handle_id (&h->abandon_timer, g_source_remove);
  g_clear_pointer (&h->runner, script_runner_free);
  g_clear_pointer (&h->script, script_free);
  for (guint i = 0; i < h->n_children; i++)
    {
      Child *c = &h->children[i];
      g_clear_pointer (&c->out, stream_free);
      g_clear_pointer (&c->err, stream_free);
      if (c->input.queue != NULL)
        child_input_clear (&c->input);
      else
        input_fifo_close (&c->input.fifo);
      child_process_clear (&c->proc);
    }
  if (h->made_dir && h->dir != NULL && g_rmdir (h->dir) != 0)
    report_error ("cannot remove %s: %s", h->dir, g_strerror (errno));
  g_free (h->dir);
  report_set_sink (NULL, NULL);
  g_clear_pointer (&h->output, output_free);
  g_clear_pointer (&h->loop, g_main_loop_unref);
  g_free (h->children);
}

static void
on_report (gpointer data, ReportKind kind, const char *text)
{
  (void) kind;
  output_event (data, text);
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
  Harness harness = { .opt = opt, .first_gone = -1, .first_failed = -1 };
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
  for (guint i = 0; i < h->n_children; i++)
    {
      h->children[i].proc.index = i;
      h->children[i].proc.name = opt->names[i];
      h->children[i].proc.pty = opt->pty_all ||
        (opt->pty != NULL && g_strv_contains ((const char *const *) opt->pty, opt->names[i]));
      h->children[i].input.fifo.read_fd = h->children[i].input.fifo.keep_fd = -1;
    }

  /* A reader of our stdout going away is an EPIPE to handle, not a death. */
  signal (SIGPIPE, SIG_IGN);
  h->loop = g_main_loop_new (NULL, FALSE);
  h->output = output_new (STDOUT_FILENO, &format, &output_hooks, h);
  report_set_sink (on_report, h->output);
  console_init (&h->console, STDIN_FILENO, (const char *const *) opt->names,
                opt->stdin_target ? (int) index_of (opt->names, opt->stdin_target) : -1,
                on_console_send, h);
  h->signal_watches[0] = g_unix_signal_add (SIGINT, on_SIGINT, h);
  h->signal_watches[1] = g_unix_signal_add (SIGTERM, on_SIGTERM, h);
  h->signal_watches[2] = g_unix_signal_add (SIGHUP, on_SIGHUP, h);

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
