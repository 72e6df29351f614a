/* Chaos test of pipe-harness: rounds of random children, random input and a
 * slow reader, each drawn from a seed and checked against what must come
 * out, whatever the timing.
 *
 * A round's seed draws (g_rand_new_with_seed) 1 to 6 children running
 * tests/harness-child's chaos mode, each with a seed of its own from which
 * it writes a random sequence of lines to stdout and stderr (chaos-gen.h)
 * in random chunks with random pauses, some echoing their input, each
 * ending with a random exit status or signal; writers that come and go
 * writing random lines to the children's FIFOs while they run (the test
 * itself, never blocking, or harness-child fifo-lines processes); and how
 * the test reads the harness's stdout: a pipe or a unix socket with small
 * buffers, read in random sizes with pauses of up to 300 ms.  The harness
 * runs with --wait-all, and --json in three rounds out of four.  Checked:
 *
 * - each child's stdout and stderr, put back together from the pieces
 *   marked with its name and stream (with --json, each line plus a newline
 *   unless "partial"; plain, any split of its lines), are exactly the bytes
 *   it wrote, generated again from its seed; an echoing child's stdout has
 *   its echo lines between them; no piece is longer than 64 KiB;
 * - every line written to an echoing child's FIFO comes back exactly once,
 *   in the order each writer wrote;
 * - each child's start and end are reported once, its end as it happened,
 *   and the exit status is --wait-all's: that of the first child, in the
 *   order the end events came, that did not exit 0, else 0;
 * - no process of the run is alive afterwards, and the harness's private
 *   folder under its XDG_RUNTIME_DIR is gone.
 *
 * Rounds run for 10 seconds (as many as fit) from a seed taken from the
 * clock; the seeds are consecutive.  Options, read before GLib's own, and
 * the environment variables that do the same (the option wins):
 *
 *   --seconds N   CHAOS_SECONDS=N   run rounds for N seconds
 *   --start S     CHAOS_START=S     the first round's seed
 *   --seed S      CHAOS_SEED=S      run the one round S
 *
 * A failing round stops the run, and prints its seed, the command that
 * replays it and what differed.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaos-gen.h"
#include "harness-run.h"

#define MAX_CHILDREN 6
#define MAX_WRITERS 10
/* Writers start within this long of the FIFOs being known. */
#define WRITE_WINDOW_MS 1500
#define PAUSE_MAX_MS 300
/* The reader's pauses add up to at most this much a round. */
#define PAUSE_BUDGET_MS 1500
#define ROUND_LIMIT_MS 60000
/* How long the processes of a run may take to disappear once it ended. */
#define GRACE_MS 1000
/* The harness's longest piece of a line. */
#define PIECE_MAX (64 * 1024)

static const int chaos_signals[] = {
  SIGTERM, SIGKILL, SIGSEGV, SIGABRT, SIGINT, SIGHUP, SIGUSR1, SIGPIPE, SIGBUS, SIGFPE,
};

static const char *program; /* how we were started, for the replay command */

typedef struct Round Round;

/* A burst of lines for one child's FIFO: written by the test itself, at
 * once and never blocking, or by a harness-child fifo-lines process. */
typedef struct {
  Round *round;
  guint child;
  guint number;     /* the writer's, in each of its lines: L<number>.<k> */
  guint32 seed;
  guint at_ms;      /* when it starts, after the FIFOs are known */
  gboolean process;
  guint count;
  guint max_ms;     /* a process's pauses between lines */
  guint sent;       /* lines that reached the FIFO, in order */
  guint echoed;     /* lines that came back */
  gboolean finished;
  GPid pid;         /* a process still running, or 0 */
  guint watch;      /* on that process */
  int status;       /* a process's, once it ended */
  guint timer;
} Writer;

typedef struct {
  char name[2];
  guint32 seed;
  gboolean echo;
  int status;       /* it exits with this, */
  int signum;       /* or kills itself with this */
  char *command;
  char *fifo;
  gboolean end_sent; /* CHAOS_END_LINE is in its FIFO */
  guint end_timer;
  GPid pid;         /* from its "started" event */
  guint started, ended; /* events about it */
  GByteArray *got[2];   /* --json: its pieces put back together */
  GArray *cuts[2];      /* --json: where in got its pieces cut short end */
  GArray *pieces[2];    /* plain: each piece, as a Span of the output */
} RoundChild;

typedef struct {
  gsize start, len;
} Span;

struct Round {
  guint32 seed;
  gboolean json;
  gboolean socket_stdout;
  int socket_buffer;
  guint n;
  RoundChild children[MAX_CHILDREN];
  guint n_writers;
  Writer writers[MAX_WRITERS];
  GRand *reader_rand;
  double pause_chance;
  gboolean small_reads;
  guint pause_left_ms;

  char *tmp;        /* the harness's working folder */
  char *xdg;        /* its XDG_RUNTIME_DIR, inside tmp */
  GPid harness;
  gboolean exited;
  int status;
  int out_fd, err_fd;
  guint out_watch, err_watch, pause_timer, harness_watch;
  GString *out, *err;
  gboolean out_eof, err_eof;
  gsize err_scanned;
  gsize out_scanned;    /* --json: stdout read for FIFO paths up to here */
  guint fifos_known;
  guint processes;  /* writer processes running */

  GPtrArray *events;  /* the harness's messages, in order */
  guint cut_pieces;   /* --json pieces marked partial */
  guint echoed;       /* lines that came back from echoing children */
  GString *failures;
  guint n_failures;
};

static void G_GNUC_PRINTF (2, 3)
fail (Round *r, const char *format, ...)
{
  va_list ap;
  r->n_failures++;
  if (r->n_failures > 20)
    return; /* the first ones tell enough */
  va_start (ap, format);
  g_string_append_vprintf (r->failures, format, ap);
  va_end (ap);
  g_string_append_c (r->failures, '\n');
}

/* ------------------------------------------------------------------ */
/* Drawing a round */

static void
round_draw (Round *r)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (r->seed);
  static const double pause_chances[] = { 0, 0.1, 0.3, 0.6 };

  r->json = g_rand_int_range (rand, 0, 4) != 0;
  r->socket_stdout = g_rand_int_range (rand, 0, 4) == 0;
  r->socket_buffer = g_rand_int_range (rand, 2048, 32768);
  r->n = g_rand_int_range (rand, 1, MAX_CHILDREN + 1);
  for (guint i = 0; i < r->n; i++)
    {
      RoundChild *c = &r->children[i];
      c->name[0] = (char) ('A' + i);
      c->seed = g_rand_int (rand);
      /* Echo lines can be told apart only with --json's partial marks. */
      c->echo = r->json && g_rand_int_range (rand, 0, 5) < 2;
      if (g_rand_int_range (rand, 0, 100) < 55)
        c->status = g_rand_boolean (rand) ? 0 : g_rand_int_range (rand, 1, 256);
      else
        c->signum = chaos_signals[g_rand_int_range (rand, 0, G_N_ELEMENTS (chaos_signals))];
      c->command = g_strdup_printf ("%s chaos %u %s %s %d", HARNESS_CHILD, c->seed,
                                    c->echo ? "echo" : "quiet",
                                    c->signum ? "signal" : "exit",
                                    c->signum ? c->signum : c->status);
    }
  r->n_writers = g_rand_int_range (rand, 0, MAX_WRITERS + 1);
  for (guint w = 0; w < r->n_writers; w++)
    {
      Writer *wr = &r->writers[w];
      wr->round = r;
      wr->number = w + 1;
      wr->child = g_rand_int_range (rand, 0, r->n);
      wr->seed = g_rand_int (rand);
      wr->at_ms = g_rand_int_range (rand, 0, WRITE_WINDOW_MS + 1);
      wr->process = g_rand_boolean (rand);
      /* A child that does not read holds 64 KiB of input and its pipe's
       * worth: what is written to it stays well below, so that no writer
       * waits for ever. */
      wr->count = wr->process ? g_rand_int_range (rand, 1, r->children[wr->child].echo ? 31 : 11)
                              : g_rand_int_range (rand, 1, 6);
      wr->max_ms = g_rand_int_range (rand, 0, 21);
    }
  r->pause_chance = pause_chances[g_rand_int_range (rand, 0, G_N_ELEMENTS (pause_chances))];
  r->small_reads = g_rand_boolean (rand);
  r->pause_left_ms = PAUSE_BUDGET_MS;
  r->reader_rand = g_rand_new_with_seed (g_rand_int (rand));
}

static char *
round_describe (Round *r)
{
  return g_strdup_printf ("%u children, %s, stdout %s, %u writers, pauses %.0f%%", r->n,
                          r->json ? "--json" : "plain", r->socket_stdout ? "a socket" : "a pipe",
                          r->n_writers, r->pause_chance * 100);
}

/* The harness's command line, as a shell would take it. */
static char *
round_command (Round *r)
{
  GString *s = g_string_new (PIPE_HARNESS " --wait-all");
  if (r->json)
    g_string_append (s, " --json");
  for (guint i = 0; i < r->n; i++)
    {
      g_autofree char *quoted = g_shell_quote (r->children[i].command);
      g_string_append_printf (s, " %s", quoted);
    }
  return g_string_free (s, FALSE);
}

/* ------------------------------------------------------------------ */
/* Writing to the FIFOs */

static void maybe_send_end (Round *r, guint child);

static void
writer_finished (Writer *w)
{
  w->finished = TRUE;
  maybe_send_end (w->round, w->child);
}

/* The test's own lines: one non-blocking write each.  A line that does not
 * fit now is tried again shortly for an echoing child (every line must
 * reach it), and given up for another. */
static gboolean
on_own_lines (gpointer data)
{
  Writer *w = data;
  RoundChild *c = &w->round->children[w->child];
  int fd = open (c->fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

  w->timer = 0;
  while (fd >= 0 && w->sent < w->count)
    {
      ChaosBuf line = { 0 };
      chaos_fifo_line (w->seed, w->number, w->sent, &line);
      chaos_buf_add (&line, "\n", 1);
      gssize n = write (fd, line.data, line.len);
      gboolean whole = n == (gssize) line.len;
      chaos_buf_free (&line);
      if (!whole)
        break;
      w->sent++;
    }
  if (fd >= 0)
    close (fd);
  if (w->sent < w->count && c->echo)
    w->timer = g_timeout_add (10, on_own_lines, w);
  else
    writer_finished (w);
  return G_SOURCE_REMOVE;
}

static void
on_writer_exited (GPid pid, int wait_status, gpointer data)
{
  Writer *w = data;
  w->status = WIFSIGNALED (wait_status) ? 128 + WTERMSIG (wait_status)
                                        : WEXITSTATUS (wait_status);
  if (w->status == 0)
    w->sent = w->count;
  g_spawn_close_pid (pid);
  w->pid = 0;
  w->watch = 0;
  w->round->processes--;
  writer_finished (w);
}

/* We ignore SIGPIPE (a FIFO whose reader is gone must not kill the test);
 * what we start gets it back, as from a shell. */
static void
restore_sigpipe (gpointer data)
{
  (void) data;
  signal (SIGPIPE, SIG_DFL);
}

static gboolean
on_writer_due (gpointer data)
{
  Writer *w = data;
  Round *r = w->round;
  w->timer = 0;
  if (!w->process)
    return on_own_lines (w);

  g_autofree char *number = g_strdup_printf ("%u", w->number);
  g_autofree char *seed = g_strdup_printf ("%u", w->seed);
  g_autofree char *count = g_strdup_printf ("%u", w->count);
  g_autofree char *max_ms = g_strdup_printf ("%u", w->max_ms);
  const char *argv[] = { HARNESS_CHILD, "fifo-lines", r->children[w->child].fifo,
                         number, seed, count, max_ms, NULL };
  g_autoptr (GError) error = NULL;
  g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                 restore_sigpipe, NULL, &w->pid, &error);
  g_assert_no_error (error);
  r->processes++;
  w->watch = g_child_watch_add (w->pid, on_writer_exited, w);
  return G_SOURCE_REMOVE;
}

static gboolean
on_end_due (gpointer data)
{
  RoundChild *c = data;
  static const char end[] = CHAOS_END_LINE "\n";
  int fd = open (c->fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

  c->end_timer = 0;
  if (fd >= 0)
    {
      c->end_sent = write (fd, end, sizeof end - 1) == sizeof end - 1;
      close (fd);
    }
  if (!c->end_sent)
    c->end_timer = g_timeout_add (10, on_end_due, c);
  return G_SOURCE_REMOVE;
}

/* An echoing child ends once every writer to it is done. */
static void
maybe_send_end (Round *r, guint child)
{
  RoundChild *c = &r->children[child];
  if (!c->echo || c->fifo == NULL || c->end_sent || c->end_timer != 0)
    return;
  for (guint w = 0; w < r->n_writers; w++)
    if (r->writers[w].child == child && !r->writers[w].finished)
      return;
  on_end_due (c);
}

static void
start_writers (Round *r)
{
  for (guint w = 0; w < r->n_writers; w++)
    r->writers[w].timer = g_timeout_add (r->writers[w].at_ms, on_writer_due, &r->writers[w]);
  for (guint i = 0; i < r->n; i++)
    maybe_send_end (r, i);
}

/* ------------------------------------------------------------------ */
/* Reading the harness */

static gboolean on_out_readable (int fd, GIOCondition condition, gpointer data);

static gboolean
on_pause_over (gpointer data)
{
  Round *r = data;
  r->pause_timer = 0;
  r->out_watch = g_unix_fd_add (r->out_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_out_readable, r);
  return G_SOURCE_REMOVE;
}

/* "A reads its input from PATH", a message of the harness's: on stderr, or
 * with --json in an event record on stdout; the writers start once every
 * FIFO is known. */
static void
learn_fifo (Round *r, const char *message)
{
  static const char says[] = " reads its input from ";
  const char *at = strstr (message, says);
  guint i = message[0] - 'A';
  if (at != message + 1 || i >= r->n || r->children[i].fifo != NULL)
    return;
  r->children[i].fifo = g_strdup (at + strlen (says));
  if (++r->fifos_known == r->n)
    start_writers (r);
}

/* The event records of stdout, until every FIFO is known. */
static void
learn_fifos_from_json (Round *r)
{
  static const char event[] = "\"stream\":\"event\",\"line\":\"";
  for (const char *nl; r->fifos_known < r->n &&
       (nl = memchr (r->out->str + r->out_scanned, '\n',
                     r->out->len - r->out_scanned)) != NULL;)
    {
      g_autofree char *line = g_strndup (r->out->str + r->out_scanned,
                                         nl - (r->out->str + r->out_scanned));
      r->out_scanned = nl + 1 - r->out->str;
      const char *at = strstr (line, event);
      char *end = at ? strchr (at + strlen (event), '"') : NULL;
      if (end == NULL)
        continue;
      *end = '\0';
      learn_fifo (r, at + strlen (event));
    }
}

/* One read of a random size, and now and then a pause. */
static gboolean
on_out_readable (int fd, GIOCondition condition, gpointer data)
{
  Round *r = data;
  static char buf[256 * 1024];
  gsize want = sizeof buf;
  (void) condition;

  if (r->small_reads && g_rand_int_range (r->reader_rand, 0, 4) == 0)
    want = g_rand_int_range (r->reader_rand, 1, 4097);
  gssize n = read (fd, buf, want);
  if (n > 0)
    {
      g_string_append_len (r->out, buf, n);
      if (r->json)
        learn_fifos_from_json (r);
    }
  else if (n == 0 || (errno != EINTR && errno != EAGAIN))
    {
      r->out_eof = TRUE;
      r->out_watch = 0;
      return G_SOURCE_REMOVE;
    }
  if (r->pause_left_ms > 0 && g_rand_double (r->reader_rand) < r->pause_chance)
    {
      /* Drawn once: MIN() evaluates its arguments twice. */
      guint drawn = (guint) g_rand_int_range (r->reader_rand, 0, PAUSE_MAX_MS + 1);
      guint ms = MIN (drawn, r->pause_left_ms);
      r->pause_left_ms -= ms;
      r->out_watch = 0;
      r->pause_timer = g_timeout_add (ms, on_pause_over, r);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* stderr is read at once (the harness writes it blocking), and tells
 * where the FIFOs are. */
static gboolean
on_err_readable (int fd, GIOCondition condition, gpointer data)
{
  Round *r = data;
  char buf[65536];
  (void) condition;

  gssize n = read (fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return G_SOURCE_CONTINUE;
  if (n <= 0)
    {
      r->err_eof = TRUE;
      r->err_watch = 0;
      return G_SOURCE_REMOVE;
    }
  g_string_append_len (r->err, buf, n);
  for (const char *nl; (nl = memchr (r->err->str + r->err_scanned, '\n',
                                     r->err->len - r->err_scanned)) != NULL;)
    {
      g_autofree char *line = g_strndup (r->err->str + r->err_scanned,
                                         nl - (r->err->str + r->err_scanned));
      r->err_scanned = nl + 1 - r->err->str;
      if (g_str_has_prefix (line, "pipe-harness: "))
        learn_fifo (r, line + strlen ("pipe-harness: "));
    }
  return G_SOURCE_CONTINUE;
}

static void
on_harness_exited (GPid pid, int wait_status, gpointer data)
{
  Round *r = data;
  r->status = WIFSIGNALED (wait_status) ? 128 + WTERMSIG (wait_status)
                                        : WEXITSTATUS (wait_status);
  r->exited = TRUE;
  r->harness_watch = 0;
  g_spawn_close_pid (pid);
}

static gboolean
on_deadline (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
spawn_harness (Round *r)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_auto (GStrv) env = g_environ_setenv (g_get_environ (), "XDG_RUNTIME_DIR", r->xdg, TRUE);
  g_autoptr (GError) error = NULL;
  int sv[2] = { -1, -1 };

  g_ptr_array_add (argv, (gpointer) PIPE_HARNESS);
  g_ptr_array_add (argv, (gpointer) "--wait-all");
  if (r->json)
    g_ptr_array_add (argv, (gpointer) "--json");
  for (guint i = 0; i < r->n; i++)
    g_ptr_array_add (argv, r->children[i].command);
  g_ptr_array_add (argv, NULL);

  if (r->socket_stdout)
    {
      g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), ==, 0);
      setsockopt (sv[0], SOL_SOCKET, SO_RCVBUF, &r->socket_buffer, sizeof r->socket_buffer);
      setsockopt (sv[1], SOL_SOCKET, SO_SNDBUF, &r->socket_buffer, sizeof r->socket_buffer);
    }
  g_spawn_async_with_pipes_and_fds (r->tmp, (const char *const *) argv->pdata,
                                    (const char *const *) env,
                                    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL,
                                    restore_sigpipe, NULL, -1, sv[1], -1, NULL, NULL, 0,
                                    &r->harness, NULL, r->socket_stdout ? NULL : &r->out_fd,
                                    &r->err_fd, &error);
  g_assert_no_error (error);
  if (r->socket_stdout)
    {
      close (sv[1]);
      r->out_fd = sv[0];
    }
  g_unix_set_fd_nonblocking (r->out_fd, TRUE, NULL);
  g_unix_set_fd_nonblocking (r->err_fd, TRUE, NULL);
  r->harness_watch = g_child_watch_add (r->harness, on_harness_exited, r);
  r->out_watch = g_unix_fd_add (r->out_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_out_readable, r);
  r->err_watch = g_unix_fd_add (r->err_fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_err_readable, r);
}

static gboolean
round_over (Round *r)
{
  return r->exited && r->out_eof && r->err_eof && r->processes == 0;
}

static void
wait_round (Round *r, guint limit_ms)
{
  gboolean late = FALSE;
  guint timer = g_timeout_add (limit_ms, on_deadline, &late);
  while (!round_over (r) && !late)
    g_main_context_iteration (NULL, TRUE);
  if (!late)
    g_source_remove (timer);
}

/* Past its time limit: the round fails, and whatever is left is stopped. */
static void
stop_round (Round *r)
{
  if (!r->exited)
    kill (r->harness, SIGTERM);
  wait_round (r, 5000);
  if (!r->exited)
    kill (r->harness, SIGKILL);
  for (guint i = 0; i < r->n; i++)
    if (r->children[i].pid > 0)
      kill (-r->children[i].pid, SIGKILL);
  for (guint w = 0; w < r->n_writers; w++)
    if (r->writers[w].pid > 0)
      kill (r->writers[w].pid, SIGKILL);
  r->out_eof = r->err_eof = TRUE; /* what is left in them is not needed */
  wait_round (r, 5000);
}

/* ------------------------------------------------------------------ */
/* Checking */

/* Bytes as C would write them, for messages. */
static char *
show (const guint8 *bytes, gsize len)
{
  GString *s = g_string_new ("\"");
  for (gsize i = 0; i < len; i++)
    {
      guint8 b = bytes[i];
      if (b == '\n')
        g_string_append (s, "\\n");
      else if (b == '"' || b == '\\')
        g_string_append_printf (s, "\\%c", b);
      else if (b >= 0x20 && b < 0x7f)
        g_string_append_c (s, (char) b);
      else
        g_string_append_printf (s, "\\x%02x", b);
    }
  g_string_append_c (s, '"');
  return g_string_free (s, FALSE);
}

/* Fails unless got is expected; says where they first differ. */
static gboolean
compare_bytes (Round *r, const char *what, const guint8 *expected, gsize expected_len,
               const guint8 *got, gsize got_len)
{
  gsize at = 0, common = MIN (expected_len, got_len);
  while (at < common && expected[at] == got[at])
    at++;
  if (at == expected_len && at == got_len)
    return TRUE;
  gsize from = at > 24 ? at - 24 : 0;
  guint line = 1;
  for (gsize i = 0; i < at; i++)
    line += expected[i] == '\n';
  g_autofree char *before = show (expected + from, at - from);
  g_autofree char *want = show (expected + at, MIN (expected_len - at, 24));
  g_autofree char *have = show (got + at, MIN (got_len - at, 24));
  fail (r, "%s: first difference at byte %" G_GSIZE_FORMAT " (line %u) of %" G_GSIZE_FORMAT
        " expected, %" G_GSIZE_FORMAT " got\n  after %s\n  expected %s\n  got      %s",
        what, at, line, expected_len, got_len, before, want, have);
  return FALSE;
}

/* A JSON string's value, bytes unchanged; p is past its opening quote and
 * ends past the closing one. */
static gboolean
json_string (const char **p, const char *end, GString *value)
{
  const char *s = *p;
  while (s < end && *s != '"')
    {
      if ((guchar) *s < 0x20)
        return FALSE;
      if (*s != '\\')
        {
          g_string_append_c (value, *s++);
          continue;
        }
      if (++s == end)
        return FALSE;
      char c = *s++;
      const char *simple = strchr ("\"\\/bfnrt", c);
      if (c != '\0' && simple != NULL)
        {
          g_string_append_c (value, "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"]);
          continue;
        }
      if (c != 'u' || end - s < 4)
        return FALSE;
      gunichar u = 0;
      for (int i = 0; i < 4; i++, s++)
        {
          int d = g_ascii_xdigit_value (*s);
          if (d < 0)
            return FALSE;
          u = u * 16 + d;
        }
      if (u >= 0xd800 && u < 0xdc00)
        {
          gunichar low = 0;
          if (end - s < 6 || s[0] != '\\' || s[1] != 'u')
            return FALSE;
          for (int i = 2; i < 6; i++)
            {
              int d = g_ascii_xdigit_value (s[i]);
              if (d < 0)
                return FALSE;
              low = low * 16 + d;
            }
          if (low < 0xdc00 || low >= 0xe000)
            return FALSE;
          s += 6;
          u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00);
        }
      else if (u >= 0xdc00 && u < 0xe000)
        return FALSE;
      char utf8[6];
      g_string_append_len (value, utf8, g_unichar_to_utf8 (u, utf8));
    }
  if (s == end)
    return FALSE;
  *p = s + 1;
  return TRUE;
}

/* One --json line: an object of strings and true/false values. */
static GHashTable *
json_record (const char *line, gsize len)
{
  const char *p = line, *end = line + len;
  g_autoptr (GHashTable) record = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                         (GDestroyNotify) g_bytes_unref);
  if (p == end || *p++ != '{')
    return NULL;
  for (;;)
    {
      g_autoptr (GString) key = g_string_new (NULL);
      g_autoptr (GString) value = g_string_new (NULL);
      if (p == end || *p++ != '"' || !json_string (&p, end, key))
        return NULL;
      if (p == end || *p++ != ':' || p == end)
        return NULL;
      if (*p == '"')
        {
          p++;
          if (!json_string (&p, end, value))
            return NULL;
        }
      else if (end - p >= 4 && memcmp (p, "true", 4) == 0)
        {
          g_string_assign (value, "true");
          p += 4;
        }
      else if (end - p >= 5 && memcmp (p, "false", 5) == 0)
        {
          g_string_assign (value, "false");
          p += 5;
        }
      else
        return NULL;
      if (g_hash_table_contains (record, key->str))
        return NULL;
      g_hash_table_insert (record, g_string_free (g_steal_pointer (&key), FALSE),
                           g_string_free_to_bytes (g_steal_pointer (&value)));
      if (p == end)
        return NULL;
      if (*p == '}' && p + 1 == end)
        return g_steal_pointer (&record);
      if (*p++ != ',')
        return NULL;
    }
}

static const char *
record_text (GHashTable *record, const char *key)
{
  GBytes *value = g_hash_table_lookup (record, key);
  return value != NULL ? g_bytes_get_data (value, NULL) : NULL;
}

static RoundChild *
child_named (Round *r, const char *name)
{
  if (name == NULL || name[0] < 'A' || name[0] >= (char) ('A' + r->n) || name[1] != '\0')
    return NULL;
  return &r->children[name[0] - 'A'];
}

static void
add_piece_bytes (Round *r, RoundChild *c, int which, const guint8 *bytes, gsize len,
                 gboolean partial, guint line_number)
{
  if (len > PIECE_MAX)
    fail (r, "line %u of the output: a piece of %s's %s of %" G_GSIZE_FORMAT
          " bytes, over 64 KiB", line_number, c->name,
          which == CHAOS_STDOUT ? "stdout" : "stderr", len);
  g_byte_array_append (c->got[which], bytes, len);
  r->cut_pieces += partial;
  if (!partial)
    g_byte_array_append (c->got[which], (const guint8 *) "\n", 1);
  else
    {
      gsize end = c->got[which]->len;
      g_array_append_val (c->cuts[which], end);
    }
}

static void
parse_json_output (Round *r)
{
  guint line_number = 0;
  for (gsize at = 0; at < r->out->len; line_number++)
    {
      const char *line = r->out->str + at;
      const char *nl = memchr (line, '\n', r->out->len - at);
      if (nl == NULL)
        {
          fail (r, "the output ends in the middle of a line: %.100s", line);
          return;
        }
      at = nl + 1 - r->out->str;
      g_autoptr (GHashTable) record = json_record (line, nl - line);
      if (record == NULL)
        {
          fail (r, "line %u of the output is not a JSON record: %.200s", line_number + 1, line);
          continue;
        }
      const char *name = record_text (record, "name");
      const char *stream = record_text (record, "stream");
      const char *partial = record_text (record, "partial");
      GBytes *text = g_hash_table_lookup (record, "line");
      if (name == NULL || stream == NULL || text == NULL ||
          record_text (record, "time") == NULL)
        {
          fail (r, "line %u of the output lacks a key: %.200s", line_number + 1, line);
          continue;
        }
      if (strcmp (stream, "event") == 0 && strcmp (name, "pipe-harness") == 0)
        {
          g_ptr_array_add (r->events, g_strdup (g_bytes_get_data (text, NULL)));
          continue;
        }
      RoundChild *c = child_named (r, name);
      if (c != NULL && strcmp (stream, "input") == 0)
        continue;
      int which = g_strcmp0 (stream, "stdout") == 0 ? CHAOS_STDOUT
                : g_strcmp0 (stream, "stderr") == 0 ? CHAOS_STDERR : -1;
      if (c == NULL || which < 0 || (partial != NULL && strcmp (partial, "true") != 0))
        {
          fail (r, "line %u of the output is not a child's line: %.200s", line_number + 1, line);
          continue;
        }
      /* The exact bytes: "line" when they are UTF-8, else base64. */
      const char *base64 = record_text (record, "line_base64");
      gsize len;
      const guint8 *bytes = g_bytes_get_data (text, &len);
      g_autofree guint8 *decoded = NULL;
      if (base64 != NULL)
        {
          decoded = g_base64_decode (base64, &len);
          bytes = decoded;
          if (g_utf8_validate_len ((const char *) bytes, len, NULL))
            fail (r, "line %u of the output has line_base64 for valid UTF-8", line_number + 1);
        }
      add_piece_bytes (r, c, which, bytes, len, partial != NULL, line_number + 1);
    }
}

static void
parse_plain_output (Round *r)
{
  guint line_number = 0;
  for (gsize at = 0; at < r->out->len; line_number++)
    {
      const char *line = r->out->str + at;
      const char *nl = memchr (line, '\n', r->out->len - at);
      if (nl == NULL)
        {
          fail (r, "the output ends in the middle of a line: %.100s", line);
          return;
        }
      at = nl + 1 - r->out->str;
      char name[2] = { line[0], '\0' };
      RoundChild *c = nl - line >= 3 && line[2] == ' ' ? child_named (r, name) : NULL;
      int which = line[1] == ':' ? CHAOS_STDOUT : line[1] == '!' ? CHAOS_STDERR : -1;
      if (c == NULL || which < 0)
        {
          g_autofree char *shown = show ((const guint8 *) line, MIN (nl - line, 100));
          fail (r, "line %u of the output has no child's mark: %s", line_number + 1, shown);
          continue;
        }
      Span piece = { line + 3 - r->out->str, nl - (line + 3) };
      if (piece.len > PIECE_MAX)
        fail (r, "line %u of the output: a piece of %s's %s of %" G_GSIZE_FORMAT
              " bytes, over 64 KiB", line_number + 1, c->name,
              which == CHAOS_STDOUT ? "stdout" : "stderr", piece.len);
      g_array_append_val (c->pieces[which], piece);
    }
}

static void
add_state (GArray *states, gsize pos)
{
  for (guint i = 0; i < states->len; i++)
    if (g_array_index (states, gsize, i) == pos)
      return;
  g_array_append_val (states, pos);
}

/* Plain output does not say which pieces ended without a newline: whether
 * some choice of them makes the pieces, in order, exactly expected.  A
 * piece either ends its line (expected has a newline next) or stops short
 * of it (pieces cut short are never empty); the few positions still
 * possible are followed piece by piece. */
static gboolean
pieces_make (Round *r, GArray *pieces, const guint8 *expected, gsize expected_len)
{
  g_autoptr (GArray) states = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_autoptr (GArray) next = g_array_new (FALSE, FALSE, sizeof (gsize));
  gsize zero = 0;

  g_array_append_val (states, zero);
  for (guint p = 0; p < pieces->len && states->len > 0; p++)
    {
      Span *piece = &g_array_index (pieces, Span, p);
      const char *bytes = r->out->str + piece->start;
      g_array_set_size (next, 0);
      for (guint s = 0; s < states->len; s++)
        {
          gsize pos = g_array_index (states, gsize, s);
          if (pos + piece->len > expected_len || memcmp (expected + pos, bytes, piece->len) != 0)
            continue;
          gsize after = pos + piece->len;
          if (after < expected_len && expected[after] == '\n')
            add_state (next, after + 1);
          if (piece->len > 0)
            add_state (next, after);
        }
      GArray *swap = states;
      states = next;
      next = swap;
    }
  for (guint s = 0; s < states->len; s++)
    if (g_array_index (states, gsize, s) == expected_len)
      return TRUE;
  return FALSE;
}

static void
check_plain_stream (Round *r, RoundChild *c, int which, const ChaosBuf *expected)
{
  g_autofree char *what = g_strdup_printf ("%s's %s", c->name,
                                           which == CHAOS_STDOUT ? "stdout" : "stderr");
  GArray *pieces = c->pieces[which];
  if (pieces_make (r, pieces, (const guint8 *) expected->data, expected->len))
    return;
  /* Say where: each piece taken as a whole line. */
  g_autoptr (GByteArray) joined = g_byte_array_new ();
  for (guint p = 0; p < pieces->len; p++)
    {
      Span *piece = &g_array_index (pieces, Span, p);
      g_byte_array_append (joined, (const guint8 *) r->out->str + piece->start, piece->len);
      g_byte_array_append (joined, (const guint8 *) "\n", 1);
    }
  g_autofree char *joined_what = g_strconcat (what, " (plain pieces, each with a newline)", NULL);
  if (compare_bytes (r, joined_what, (const guint8 *) expected->data, expected->len,
                     joined->data, joined->len))
    fail (r, "%s: no split of its lines gives the pieces shown", what);
}

/* An echoing child's stdout: its own lines, with "~echo LINE" lines at
 * line starts; each echoed line is checked against the writers'. */
static void
check_echo_stdout (Round *r, guint child, const ChaosBuf *expected)
{
  RoundChild *c = &r->children[child];
  const guint8 *got = c->got[CHAOS_STDOUT]->data;
  gsize got_len = c->got[CHAOS_STDOUT]->len;
  const guint8 *want = (const guint8 *) expected->data;
  gsize mark_len = strlen (CHAOS_ECHO_MARK);
  gsize e = 0, g = 0;
  g_autoptr (GByteArray) own = g_byte_array_new ();

  for (;;)
    {
      while (got_len - g >= mark_len && memcmp (got + g, CHAOS_ECHO_MARK, mark_len) == 0)
        {
          const guint8 *nl = memchr (got + g, '\n', got_len - g);
          if (nl == NULL)
            {
              fail (r, "%s's stdout ends inside an echo line", c->name);
              return;
            }
          const guint8 *text = got + g + mark_len;
          gsize len = nl - text;
          g = nl + 1 - got;
          char head[32] = { 0 };
          guint number, k;
          memcpy (head, text, MIN (len, sizeof head - 1));
          if (sscanf (head, "L%u.%u ", &number, &k) != 2 || number == 0 ||
              number > r->n_writers || r->writers[number - 1].child != child)
            {
              g_autofree char *shown = show (text, MIN (len, 60));
              fail (r, "%s echoed a line no writer sent it: %s", c->name, shown);
              continue;
            }
          Writer *w = &r->writers[number - 1];
          ChaosBuf line = { 0 };
          chaos_fifo_line (w->seed, w->number, k, &line);
          g_autofree char *what = g_strdup_printf ("%s's echo of line %u of writer %u",
                                                   c->name, k, number);
          if (k != w->echoed)
            fail (r, "%s: line %u of writer %u came back after %u of its lines "
                  "(each once, in order)", c->name, k, number, w->echoed);
          else if (k >= w->sent)
            fail (r, "%s: line %u of writer %u came back, but only %u were sent",
                  c->name, k, number, w->sent);
          else if (compare_bytes (r, what, (const guint8 *) line.data, line.len, text, len))
            {
              w->echoed++;
              r->echoed++;
            }
          chaos_buf_free (&line);
        }
      if (e == expected->len)
        break;
      /* The child's next line, through its newline. */
      const guint8 *nl = memchr (want + e, '\n', expected->len - e);
      gsize len = nl != NULL ? (gsize) (nl + 1 - (want + e)) : expected->len - e;
      g_byte_array_append (own, got + g, MIN (len, got_len - g));
      if (got_len - g < len || memcmp (got + g, want + e, len) != 0)
        {
          /* Show the difference within what the child wrote. */
          g_byte_array_append (own, got + g + MIN (len, got_len - g),
                               got_len - g - MIN (len, got_len - g));
          g_autofree char *what = g_strdup_printf ("%s's stdout (its own lines)", c->name);
          compare_bytes (r, what, want, expected->len, own->data, own->len);
          return;
        }
      e += len;
      g += len;
    }
  if (g != got_len)
    {
      g_autofree char *shown = show (got + g, MIN (got_len - g, 60));
      fail (r, "%s's stdout goes on after all it wrote: %s", c->name, shown);
    }
}

/* A line that a child wrote with one write() of at most PIPE_BUF bytes
 * reaches the harness whole (a pipe's promise): the child never paused in
 * it, and it is far from 64 KiB, so no piece may end inside it, unless the
 * child got input, which ends its unfinished line wherever the harness has
 * read to.  Followed chunk by chunk with the child's own schedule. */
static void
check_whole_writes (Round *r, RoundChild *c, const ChaosBuf expected[2])
{
  ChaosSchedule schedule;
  guint next_cut[2] = { 0, 0 };
  int which;
  size_t start, len;
  long pause_us;

  chaos_schedule_init (&schedule, c->seed, expected[0].len, expected[1].len);
  while (chaos_schedule_next (&schedule, &which, &start, &len, &pause_us))
    {
      const char *data = expected[which].data;
      GArray *cuts = c->cuts[which];
      size_t line = start, chunk_end = start + len;
      if (len > PIPE_BUF)
        continue;
      if (line > 0 && data[line - 1] != '\n')
        {
          /* The chunk goes on a line an earlier one began. */
          const char *nl = memchr (data + line, '\n', chunk_end - line);
          if (nl == NULL)
            continue;
          line = nl + 1 - data;
        }
      for (const char *nl; (nl = memchr (data + line, '\n', chunk_end - line)) != NULL;
           line = nl + 1 - data)
        {
          gsize end = nl - data, cut;
          while (next_cut[which] < cuts->len &&
                 g_array_index (cuts, gsize, next_cut[which]) <= line)
            next_cut[which]++;
          if (next_cut[which] == cuts->len ||
              (cut = g_array_index (cuts, gsize, next_cut[which])) > end)
            continue;
          g_autofree char *shown = show ((const guint8 *) data + line, MIN (end - line, 40));
          fail (r, "%s's %s: the line at byte %" G_GSIZE_FORMAT " (%" G_GSIZE_FORMAT
                " bytes, written in one write of %" G_GSIZE_FORMAT ") was cut at byte %"
                G_GSIZE_FORMAT ": %s", c->name, which == CHAOS_STDOUT ? "stdout" : "stderr",
                line, end - line, len, cut, shown);
          return;
        }
    }
}

/* The harness's messages about the children: each starts and ends once,
 * as planned; returns the status --wait-all must end with. */
static int
check_events (Round *r)
{
  int expected_status = 0;
  gboolean failed_one = FALSE;

  for (guint e = 0; e < r->events->len; e++)
    {
      const char *text = g_ptr_array_index (r->events, e);
      char name[2] = { text[0], '\0' };
      RoundChild *c = text[0] != '\0' && text[1] == ' ' ? child_named (r, name) : NULL;
      int value;
      if (c == NULL)
        continue;
      if (g_str_has_prefix (text + 2, "started (pid "))
        {
          c->started++;
          c->pid = (GPid) g_ascii_strtoll (text + 2 + strlen ("started (pid "), NULL, 10);
          continue;
        }
      if (sscanf (text + 2, "exited with status %d", &value) == 1)
        {
          if (c->signum != 0 || value != c->status)
            fail (r, "%s should have %s %d, but the harness says: %s", c->name,
                  c->signum ? "been killed by signal" : "exited with status",
                  c->signum ? c->signum : c->status, text);
        }
      else if (sscanf (text + 2, "was killed by signal %d", &value) == 1)
        {
          if (c->signum != value)
            fail (r, "%s should have %s %d, but the harness says: %s", c->name,
                  c->signum ? "been killed by signal" : "exited with status",
                  c->signum ? c->signum : c->status, text);
          value += 128;
        }
      else
        continue;
      c->ended++;
      if (value != 0 && !failed_one)
        {
          failed_one = TRUE;
          expected_status = value;
        }
    }
  for (guint i = 0; i < r->n; i++)
    if (r->children[i].started != 1 || r->children[i].ended != 1)
      fail (r, "%s was reported started %u times and ended %u times", r->children[i].name,
            r->children[i].started, r->children[i].ended);
  return expected_status;
}

static void
check_round (Round *r)
{
  if (r->json)
    parse_json_output (r);
  else
    parse_plain_output (r);
  if (!r->json)
    {
      /* Plain: the messages are on stderr. */
      g_auto (GStrv) lines = g_strsplit (r->err->str, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        if (g_str_has_prefix (lines[i], "pipe-harness: "))
          g_ptr_array_add (r->events, g_strdup (lines[i] + strlen ("pipe-harness: ")));
    }

  int expected_status = check_events (r);
  if (r->status != expected_status)
    fail (r, "the harness exited with status %d, not %d", r->status, expected_status);

  for (guint i = 0; i < r->n; i++)
    {
      RoundChild *c = &r->children[i];
      ChaosBuf expected[2] = { { 0 }, { 0 } };
      gboolean got_input = c->echo;
      for (int which = CHAOS_STDOUT; which <= CHAOS_STDERR; which++)
        {
          chaos_stream (c->seed, which, which == CHAOS_STDERR || !c->echo, &expected[which]);
          g_autofree char *what = g_strdup_printf ("%s's %s", c->name,
                                                   which == CHAOS_STDOUT ? "stdout" : "stderr");
          if (!r->json)
            check_plain_stream (r, c, which, &expected[which]);
          else if (which == CHAOS_STDOUT && c->echo)
            check_echo_stdout (r, i, &expected[which]);
          else
            compare_bytes (r, what, (const guint8 *) expected[which].data, expected[which].len,
                           c->got[which]->data, c->got[which]->len);
        }
      for (guint w = 0; w < r->n_writers; w++)
        got_input |= r->writers[w].child == i;
      if (r->json && !got_input)
        check_whole_writes (r, c, expected);
      chaos_buf_free (&expected[0]);
      chaos_buf_free (&expected[1]);
    }

  for (guint w = 0; w < r->n_writers; w++)
    {
      Writer *wr = &r->writers[w];
      RoundChild *c = &r->children[wr->child];
      if (!c->echo)
        continue;
      if (wr->process && wr->status != 0)
        fail (r, "writer %u (a process) to %s ended with status %d", wr->number, c->name,
              wr->status);
      else if (wr->echoed != wr->sent)
        fail (r, "%s echoed %u of the %u lines writer %u sent it", c->name, wr->echoed,
              wr->sent, wr->number);
    }

  /* Nothing left behind. */
  for (guint i = 0; i < r->n; i++)
    {
      GPid pid = r->children[i].pid;
      gint64 give_up = g_get_monotonic_time () + GRACE_MS * 1000;
      while (pid > 0 && kill (pid, 0) == 0 && pid_alive (pid) &&
             g_get_monotonic_time () < give_up)
        tu_sleep_ms (10);
      if (pid > 0 && kill (pid, 0) == 0 && pid_alive (pid))
        fail (r, "%s (pid %d) is still alive after the run", r->children[i].name, (int) pid);
    }
  g_autoptr (GDir) dir = g_dir_open (r->xdg, 0, NULL);
  const char *left = dir != NULL ? g_dir_read_name (dir) : "(the folder itself is gone)";
  if (left != NULL)
    fail (r, "%s was left in the harness's XDG_RUNTIME_DIR", left);
}

/* ------------------------------------------------------------------ */
/* Rounds */

static void
round_clear (Round *r)
{
  g_clear_handle_id (&r->out_watch, g_source_remove);
  g_clear_handle_id (&r->err_watch, g_source_remove);
  g_clear_handle_id (&r->pause_timer, g_source_remove);
  g_clear_handle_id (&r->harness_watch, g_source_remove);
  if (r->out_fd >= 0)
    close (r->out_fd);
  if (r->err_fd >= 0)
    close (r->err_fd);
  for (guint w = 0; w < r->n_writers; w++)
    {
      g_clear_handle_id (&r->writers[w].timer, g_source_remove);
      g_clear_handle_id (&r->writers[w].watch, g_source_remove);
    }
  for (guint i = 0; i < r->n; i++)
    {
      RoundChild *c = &r->children[i];
      g_clear_handle_id (&c->end_timer, g_source_remove);
      g_free (c->command);
      g_free (c->fifo);
      for (int which = 0; which < 2; which++)
        {
          g_byte_array_unref (c->got[which]);
          g_array_unref (c->cuts[which]);
          g_array_unref (c->pieces[which]);
        }
    }
  g_rand_free (r->reader_rand);
  tu_tmpdir_remove (r->tmp);
  g_free (r->tmp);
  g_free (r->xdg);
  g_string_free (r->out, TRUE);
  g_string_free (r->err, TRUE);
  g_ptr_array_unref (r->events);
  g_string_free (r->failures, TRUE);
}

/* Runs and checks round seed; FALSE (and the test failed) if it failed. */
static gboolean
run_round (guint32 seed)
{
  Round round = { .seed = seed, .out_fd = -1, .err_fd = -1 };
  Round *r = &round;

  round_draw (r);
  for (guint i = 0; i < r->n; i++)
    for (int which = 0; which < 2; which++)
      {
        r->children[i].got[which] = g_byte_array_new ();
        r->children[i].cuts[which] = g_array_new (FALSE, FALSE, sizeof (gsize));
        r->children[i].pieces[which] = g_array_new (FALSE, FALSE, sizeof (Span));
      }
  r->tmp = tu_tmpdir_new ();
  r->xdg = g_build_filename (r->tmp, "xdg", NULL);
  g_assert_cmpint (g_mkdir (r->xdg, 0700), ==, 0);
  r->out = g_string_new (NULL);
  r->err = g_string_new (NULL);
  r->events = g_ptr_array_new_with_free_func (g_free);
  r->failures = g_string_new (NULL);

  g_autofree char *description = round_describe (r);
  g_test_message ("round %u: %s", seed, description);
  spawn_harness (r);
  wait_round (r, ROUND_LIMIT_MS);
  if (!round_over (r))
    {
      fail (r, "the round did not end within %d s (harness %s, %u writer processes left)",
            ROUND_LIMIT_MS / 1000, r->exited ? "exited" : "running", r->processes);
      stop_round (r);
    }
  else
    check_round (r);

  gboolean passed = r->n_failures == 0;
  if (passed)
    g_test_message ("round %u: ok: %" G_GSIZE_FORMAT " bytes out, %u pieces cut short, "
                    "%u lines echoed, status %d", seed, r->out->len, r->cut_pieces,
                    r->echoed, r->status);
  else
    {
      g_autofree char *command = round_command (r);
      g_autofree char *report = g_strdup_printf (
        "chaos round %u failed (%s)\n"
        "replay it: CHAOS_SEED=%u %s   (or: %s --seed %u)\n"
        "the harness ran as: %s\n"
        "%s%s",
        seed, description, seed, program, program, seed, command, r->failures->str,
        r->n_failures > 20 ? "(and more)\n" : "");
      g_printerr ("%s", report);
      g_test_fail_printf ("chaos round %u failed; replay with CHAOS_SEED=%u", seed, seed);
      g_autofree char *stderr_text = g_strndup (r->err->str, 4000);
      g_printerr ("the harness's stderr:\n%s\n", stderr_text);
    }
  round_clear (r);
  return passed;
}

static guint64 option_seconds = 10;
static gboolean option_replay;
static guint32 option_seed;
static gboolean option_start_given;
static guint32 option_start;

static void
test_rounds (void)
{
  if (option_replay)
    {
      run_round (option_seed);
      return;
    }
  guint32 seed = option_start_given ? option_start : g_random_int ();
  gint64 until = g_get_monotonic_time () + (gint64) option_seconds * G_USEC_PER_SEC;
  guint rounds = 0;
  g_test_message ("chaos: rounds from seed %u for %" G_GUINT64_FORMAT " s", seed,
                  option_seconds);
  do
    {
      if (!run_round (seed + rounds))
        {
          g_test_message ("chaos: round %u failed, after %u that passed", seed + rounds,
                          rounds);
          return;
        }
      rounds++;
    }
  while (g_get_monotonic_time () < until);
  g_test_message ("chaos: %u rounds passed, seeds %u to %u", rounds, seed,
                  seed + rounds - 1);
}

/* A number for option (from its value, or the environment's name); exits
 * with a line on stderr if it is not one. */
static guint64
number_option (const char *option, const char *value)
{
  guint64 n;
  g_autoptr (GError) error = NULL;
  if (!g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT32, &n, &error))
    {
      g_printerr ("%s: %s: %s\n", program, option, error->message);
      exit (2);
    }
  return n;
}

/* Our options, taken out of argv before g_test_init sees it; the
 * environment first, so that an option wins. */
static void
parse_options (int *argc, char **argv)
{
  static const char *const names[] = { "--seconds", "--start", "--seed" };
  static const char *const env[] = { "CHAOS_SECONDS", "CHAOS_START", "CHAOS_SEED" };
  const char *values[3] = { NULL, NULL, NULL };
  int kept = 1;

  for (int o = 0; o < 3; o++)
    values[o] = g_getenv (env[o]);
  for (int i = 1; i < *argc; i++)
    {
      int o = 0;
      while (o < 3 && strcmp (argv[i], names[o]) != 0)
        o++;
      if (o == 3)
        {
          argv[kept++] = argv[i];
          continue;
        }
      if (i + 1 == *argc)
        {
          g_printerr ("%s: %s needs a value\n", program, names[o]);
          exit (2);
        }
      values[o] = argv[++i];
    }
  argv[kept] = NULL;
  *argc = kept;
  if (values[0] != NULL)
    option_seconds = number_option ("--seconds", values[0]);
  if (values[1] != NULL)
    {
      option_start_given = TRUE;
      option_start = (guint32) number_option ("--start", values[1]);
    }
  if (values[2] != NULL)
    {
      option_replay = TRUE;
      option_seed = (guint32) number_option ("--seed", values[2]);
    }
}

int
main (int argc, char **argv)
{
  program = argv[0];
  parse_options (&argc, argv);
  /* A FIFO whose reader is gone is an error to us, not a death. */
  signal (SIGPIPE, SIG_IGN);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/chaos/rounds", test_rounds);
  return g_test_run ();
}
