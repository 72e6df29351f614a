/* script-run: playing a parsed script and giving its verdict; see
 * script-run.h. */
#include "script-run.h"

#include <gio/gio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Lines kept per child for failure reports, whatever matched. */
#define LAST_LINES_SHOWN 5
/* The longest the runner holds the main loop in one go: a scan of a long
 * window, or a long loop of steps that never wait, goes on in the next
 * iteration after this. */
#define SLICE_US 5000

/* Whether the main loop's current dispatch has run for a slice already:
 * then what can wait does, until the next iteration.  (Outside a dispatch,
 * as in a unit test, never.) */
static gboolean
over_budget_at (gint64 now)
{
  GSource *current = g_main_current_source ();
  return current != NULL && now - g_source_get_time (current) > SLICE_US;
}

static gboolean
over_budget (void)
{
  return over_budget_at (g_get_monotonic_time ());
}

/* Reading the clock costs about as much as relaying a line, so it is not
 * read for every line: only once the matching done since it was last read
 * could have taken this many quick matches' time (pattern_match_timed():
 * a few microseconds each, so well under a millisecond in all), and after
 * every match that took long. */
#define CLOCK_READ_WORK 100
/* A match's work: one, plus one for each this many bytes of its line. */
#define WORK_BYTES 1024

/* A kept line's text, valid until the child's next line is kept. */
typedef struct {
  const char *text;
  gsize len;
} LineText;

typedef struct {
  Pattern *pattern;        /* owned when compiled from a pattern with ${var} */
  gboolean owned;
  const ScriptStep *step;  /* the fail-on step */
} FailOn;

/* A child's lines are numbered from 0.  Those kept (its window, and its
 * last lines for failure reports, consumed or not) lie in one buffer of
 * text, back to back without their newlines, and one array of where each
 * starts, oldest first.  A new line is appended; the lines no longer kept
 * are cut off the front only when they take more room than those that are
 * (so each byte is moved at most once on average), so that keeping a line
 * allocates nothing. */
typedef struct {
  char *text;              /* the kept lines' bytes */
  gsize text_len, text_size;
  guint64 text_at;         /* where text[0] is in all the child printed */
  guint64 *line_at;        /* where each kept line starts in all of it */
  gsize n_lines, lines_size;
  guint64 first_seq;       /* the number of line_at[0]'s line */
  guint64 window_seq;      /* the window is the lines from this one on: those
                            * since the last match, at most match_max bytes */
  guint64 window_dropped;  /* lines that left it unsearched (--match-max) */
  guint64 consumed_before; /* lines below this number were consumed */
  guint64 checked_before;  /* lines below this number were fail-on checked */
  GArray *fail_on;         /* FailOn */
  gboolean running;        /* a process of it runs */
  gboolean ready;          /* and is up */
  gboolean ended;          /* its last process ended; status, term_signal */
  int status;
  int term_signal;
  gboolean end_expected;   /* the script asked for the end of this process */
  int signal_sent;         /* a signal it sent that ends a process, or 0 */
  gboolean restarting;     /* being stopped to be started again */
  char *silence_hint;      /* said when a step fails and it printed nothing */
} ChildState;

typedef struct {
  guint end;       /* index of the repeat's end step */
  guint64 count;
  guint64 i;
  char *saved_i;   /* ${i} before the loop, or NULL */
} Loop;

struct ScriptRunner {
  const Script *script;
  const char *const *names;
  ScriptHooks hooks;
  gpointer data;
  gsize match_max;
  ChildState *children;
  guint n_children;
  GHashTable *vars;
  GArray *loops;     /* Loop: the repeats the current step is in */
  guint pos;         /* the current step */
  gboolean started;
  gboolean advancing; /* advance() is on the stack */
  gboolean running;
  gboolean finished;

  /* While the current step waits */
  gboolean waiting;
  guint timer;
  guint scan_idle;   /* a long scan goes on in the next iteration */
  guint advance_idle; /* a long run of steps goes on in the next iteration */
  guint lines_idle;   /* lines that came while the loop was busy, processed
                       * in the next iteration */
  const ScriptStep *searching; /* the expect or refute step that waits */
  Pattern *pattern;  /* expect, refute: owned when compiled here */
  Pattern *unless;
  gboolean pattern_owned, unless_owned;
  guint64 cursor;    /* the next line to search (below the window's first:
                      * from that one) */
  guint64 searched;
  guint match_work;  /* since the clock was last read: see CLOCK_READ_WORK */
  char *blocked;     /* send, write: why it waits */
};

static void advance (ScriptRunner *r);
static void check_fail_on (ScriptRunner *r, guint child, guint64 seq);
static void scan (ScriptRunner *r);

/* The number the child's next line will have. */
static inline guint64
next_seq (const ChildState *c)
{
  return c->first_seq + c->n_lines;
}

static inline LineText
kept_line (const ChildState *c, guint64 seq)
{
  gsize i = (gsize) (seq - c->first_seq);
  guint64 end = i + 1 < c->n_lines ? c->line_at[i + 1] : c->text_at + c->text_len;
  return (LineText) { c->text + (c->line_at[i] - c->text_at), (gsize) (end - c->line_at[i]) };
}

/* How many last lines a failure report shows. */
static guint
last_lines (const ChildState *c)
{
  return (guint) MIN (next_seq (c), LAST_LINES_SHOWN);
}

/* The window's bytes: each line weighs its bytes and its newline, so that a
 * flood of empty lines fills the window too. */
static gsize
window_bytes (const ChildState *c)
{
  guint64 end = next_seq (c);
  if (c->window_seq == end)
    return 0;
  guint64 first_at = c->line_at[c->window_seq - c->first_seq];
  return (gsize) (c->text_at + c->text_len - first_at + (end - c->window_seq));
}

/* Whether the matching done since the clock was last read calls for
 * reading it again (then the count starts over). */
static gboolean
clock_due (ScriptRunner *r)
{
  if (r->match_work < CLOCK_READ_WORK)
    return FALSE;
  r->match_work = 0;
  return TRUE;
}

/* pattern_match(), counting its work for clock_due(). */
static MatchResult
match_line (ScriptRunner *r, const Pattern *pattern, LineText line, GHashTable *captures)
{
  gboolean took_long;
  MatchResult m = pattern_match_timed (pattern, line.text, line.len, captures, &took_long);
  r->match_work += took_long ? CLOCK_READ_WORK : 1 + (guint) MIN (line.len / WORK_BYTES,
                                                                  CLOCK_READ_WORK);
  return m;
}

static void
clear_fail_on (ChildState *c)
{
  for (guint i = 0; i < c->fail_on->len; i++)
    {
      FailOn *f = &g_array_index (c->fail_on, FailOn, i);
      if (f->owned)
        pattern_free (f->pattern);
    }
  g_array_set_size (c->fail_on, 0);
}

ScriptRunner *
script_runner_new (const Script *script, const char *const *names,
                   GHashTable *vars, gsize match_max, const ScriptHooks *hooks,
                   gpointer data)
{
  ScriptRunner *r = g_new0 (ScriptRunner, 1);
  r->script = script;
  r->names = names;
  r->hooks = *hooks;
  r->data = data;
  r->match_max = match_max;
  r->n_children = g_strv_length ((char **) names);
  r->children = g_new0 (ChildState, r->n_children);
  for (guint i = 0; i < r->n_children; i++)
    r->children[i].fail_on = g_array_new (FALSE, FALSE, sizeof (FailOn));
  r->vars = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (vars != NULL)
    {
      GHashTableIter iter;
      gpointer key, value;
      g_hash_table_iter_init (&iter, vars);
      while (g_hash_table_iter_next (&iter, &key, &value))
        g_hash_table_insert (r->vars, g_strdup (key), g_strdup (value));
    }
  r->loops = g_array_new (FALSE, FALSE, sizeof (Loop));
  return r;
}

static void
end_wait (ScriptRunner *r)
{
  r->waiting = FALSE;
  r->searching = NULL;
  g_clear_handle_id (&r->timer, g_source_remove);
  g_clear_handle_id (&r->scan_idle, g_source_remove);
  if (r->pattern_owned)
    g_clear_pointer (&r->pattern, pattern_free);
  if (r->unless_owned)
    g_clear_pointer (&r->unless, pattern_free);
  r->pattern = r->unless = NULL;
  r->pattern_owned = r->unless_owned = FALSE;
  r->cursor = 0;
  r->searched = 0;
  g_clear_pointer (&r->blocked, g_free);
}

void
script_runner_free (ScriptRunner *r)
{
  end_wait (r);
  g_clear_handle_id (&r->advance_idle, g_source_remove);
  g_clear_handle_id (&r->lines_idle, g_source_remove);
  for (guint i = 0; i < r->n_children; i++)
    {
      ChildState *c = &r->children[i];
      g_free (c->text);
      g_free (c->line_at);
      clear_fail_on (c);
      g_array_unref (c->fail_on);
      g_free (c->silence_hint);
    }
  for (guint i = 0; i < r->loops->len; i++)
    g_free (g_array_index (r->loops, Loop, i).saved_i);
  g_array_unref (r->loops);
  g_free (r->children);
  g_hash_table_unref (r->vars);
  g_free (r);
}

gboolean
script_runner_running (ScriptRunner *r)
{
  return r->running;
}

void
script_runner_stop (ScriptRunner *r)
{
  end_wait (r);
  g_clear_handle_id (&r->advance_idle, g_source_remove);
  g_clear_handle_id (&r->lines_idle, g_source_remove);
  r->running = FALSE;
  r->finished = TRUE;
}

/* ------------------------------------------------------------------ */
/* Reports */

/* "exited with status 1", "was killed by signal 11 (SIGSEGV)" */
static char *
describe_end (int status, int term_signal)
{
  if (term_signal != 0)
    return g_strdup_printf ("was killed by signal %d (SIG%s)", term_signal,
                            script_signal_name (term_signal));
  return g_strdup_printf ("exited with status %d", status);
}

/* A child's line made fit for a one-line report: control bytes and bytes
 * that are not UTF-8 shown as \xNN. */
static void
append_printable (GString *out, LineText line)
{
  gsize len = line.len;
  const char *p = line.text;
  const char *end = p + len;

  if (len > 200)
    end = p + 200;
  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);
      if (c == (gunichar) -1 || c == (gunichar) -2 || (c < 0x20 && c != '\t') ||
          c == 0x7f)
        {
          g_string_append_printf (out, "\\x%02x", (guchar) *p++);
          continue;
        }
      const char *next = g_utf8_next_char (p);
      g_string_append_len (out, p, next - p);
      p = next;
    }
  if (end < p + len && line.len > 200)
    g_string_append_printf (out, "… (%" G_GSIZE_FORMAT " bytes)", line.len);
}

static void
append_last_lines (ScriptRunner *r, GString *report, guint child)
{
  ChildState *c = &r->children[child];
  const char *name = r->names[child];
  guint shown = last_lines (c);
  guint64 first = next_seq (c) - shown;
  gboolean any_consumed = shown > 0 && first < c->consumed_before;

  if (shown == 0)
    g_string_append_printf (report, "\n%s printed nothing%s%s", name,
                            c->silence_hint != NULL ? ": " : "",
                            c->silence_hint != NULL ? c->silence_hint : "");
  else if (any_consumed)
    g_string_append_printf (report, "\n%s printed last ('=' marks lines earlier "
                            "steps consumed, '|' lines still unmatched):", name);
  else
    g_string_append_printf (report, "\n%s printed last:", name);
  for (guint64 seq = first; seq < next_seq (c); seq++)
    {
      g_string_append (report, seq < c->consumed_before ? "\n  = " : "\n  | ");
      append_printable (report, kept_line (c, seq));
    }
}

static const ScriptStep *
current_step (ScriptRunner *r)
{
  if (r->pos >= r->script->steps->len)
    return NULL;
  return g_ptr_array_index (r->script->steps, r->pos);
}

#define EVERY_CHILD (-2)

/* Fails the script: at step (NULL: before the first or after the last), with
 * the lines of child (-1: that of the step, if any; EVERY_CHILD: all). */
static void G_GNUC_PRINTF (4, 5)
fail_with (ScriptRunner *r, const ScriptStep *step, int child, const char *format, ...)
{
  g_autoptr (GString) report = g_string_new (NULL);
  va_list ap;

  if (r->finished)
    return;
  if (step != NULL)
    g_string_append_printf (report, "%s:%u: %s: ", r->script->path, step->line_no,
                            step->source);
  else
    g_string_append_printf (report, "%s: ", r->script->path);
  va_start (ap, format);
  g_string_append_vprintf (report, format, ap);
  va_end (ap);

  if (child < 0 && step != NULL && script_step_has_child (step->kind))
    child = step->child;
  if (child >= 0)
    append_last_lines (r, report, child);
  for (guint i = 0; child == EVERY_CHILD && i < r->n_children; i++)
    append_last_lines (r, report, i);

  end_wait (r);
  g_clear_handle_id (&r->advance_idle, g_source_remove);
  g_clear_handle_id (&r->lines_idle, g_source_remove);
  r->running = FALSE;
  r->finished = TRUE;
  r->hooks.finished (r->data, report->str);
}

#define fail(r, step, ...) fail_with ((r), (step), -1, __VA_ARGS__)

/* " (searched 3 lines; 10 older lines left the window unsearched: --match-max)" */
static char *
searched_note (ScriptRunner *r, guint child)
{
  ChildState *c = &r->children[child];
  g_autoptr (GString) note = g_string_new (NULL);
  g_string_append_printf (note, "searched %" G_GUINT64_FORMAT " line%s", r->searched,
                          r->searched == 1 ? "" : "s");
  if (c->window_dropped > 0)
    g_string_append_printf (note, "; %" G_GUINT64_FORMAT " earlier line%s left the "
                            "window unsearched (--match-max)", c->window_dropped,
                            c->window_dropped == 1 ? "" : "s");
  return g_string_free (g_steal_pointer (&note), FALSE);
}

void
script_runner_set_silence_hint (ScriptRunner *r, guint child, const char *hint)
{
  g_free (r->children[child].silence_hint);
  r->children[child].silence_hint = g_strdup (hint);
}

/* Whether the script asked for this end: a close, a restart, or a signal
 * it sent that kills (or makes it exit, as a handler does); a crash after
 * a signal for something else (SIGHUP to reload) was not asked for. */
static gboolean
end_asked (const ChildState *c, int term_signal)
{
  return c->end_expected ||
         (c->signal_sent != 0 && (term_signal == 0 || term_signal == c->signal_sent));
}

gboolean
script_runner_end_asked (ScriptRunner *r, guint child, int term_signal)
{
  return end_asked (&r->children[child], term_signal);
}

void
script_runner_set_var (ScriptRunner *r, const char *name, const char *value)
{
  g_hash_table_insert (r->vars, g_strdup (name), g_strdup (value));
}

void
script_runner_abort (ScriptRunner *r, const char *why)
{
  fail (r, current_step (r), "%s", why);
}

void
script_runner_abort_all (ScriptRunner *r, const char *why)
{
  fail_with (r, r->started ? current_step (r) : NULL, EVERY_CHILD, "%s", why);
}

/* ------------------------------------------------------------------ */
/* Variables and patterns */

static const char *
lookup (const char *name, gpointer data)
{
  ScriptRunner *r = data;
  const char *value = g_hash_table_lookup (r->vars, name);
  return value != NULL ? value : g_getenv (name);
}

/* The step's regex, compiled now if it holds ${var}. */
static Pattern *
resolve (ScriptRunner *r, const ScriptStep *step, const ScriptRegex *regex,
         gboolean *owned)
{
  g_autoptr (GString) source = NULL;
  g_autoptr (GError) error = NULL;

  *owned = FALSE;
  if (regex->pattern != NULL)
    return regex->pattern;
  source = g_string_new (NULL);
  Pattern *pattern = NULL;
  if (script_expand (regex->source, EXPAND_REGEX, lookup, r, source, &error))
    pattern = pattern_new (source->str, &error);
  if (pattern == NULL)
    {
      fail (r, step, "%s", error->message);
      return NULL;
    }
  *owned = TRUE;
  return pattern;
}

/* ------------------------------------------------------------------ */
/* Windows */

/* The lines below before are consumed: they leave the window. */
static void
consume (ChildState *c, guint64 before)
{
  c->consumed_before = before;
  c->window_seq = before;
  c->window_dropped = 0;
}

static gboolean
waiting_on (ScriptRunner *r, guint child, StepKind kind)
{
  const ScriptStep *step = current_step (r);
  return r->running && r->waiting && step != NULL && step->kind == kind &&
         script_step_has_child (step->kind) && step->child == child;
}

/* Room for len more bytes of text; the lines from keep on are kept. */
static void
make_text_room (ChildState *c, guint64 keep, gsize len)
{
  gsize dead = keep < next_seq (c)
    ? (gsize) (c->line_at[keep - c->first_seq] - c->text_at) : c->text_len;
  gsize live = c->text_len - dead;

  if (dead > 0 && dead >= live)
    {
      memmove (c->text, c->text + dead, live);
      c->text_at += dead;
      c->text_len = live;
    }
  if (c->text_size - c->text_len < len)
    {
      c->text_size = MAX (MAX (2 * c->text_size, c->text_len + len), 4096);
      c->text = g_realloc (c->text, c->text_size);
    }
}

/* Room for one more line's start; the lines from keep on are kept. */
static void
make_line_room (ChildState *c, guint64 keep)
{
  gsize dead = (gsize) (keep - c->first_seq);
  gsize live = c->n_lines - dead;

  if (dead > 0 && dead >= live)
    {
      memmove (c->line_at, c->line_at + dead, live * sizeof *c->line_at);
      c->first_seq = keep;
      c->n_lines = live;
    }
  if (c->n_lines == c->lines_size)
    {
      c->lines_size = MAX (2 * c->lines_size, 256);
      c->line_at = g_renew (guint64, c->line_at, c->lines_size);
    }
}

/* scanning: the waiting step searches this child's window. */
static void
add_line (ScriptRunner *r, guint child, const char *text, gsize len, gboolean scanning)
{
  ChildState *c = &r->children[child];
  /* Kept: the window, and the last lines once this one is added. */
  guint64 keep = MIN (c->window_seq, next_seq (c) + 1 - MIN (next_seq (c) + 1,
                                                            LAST_LINES_SHOWN));
  if (c->text_size - c->text_len < len)
    make_text_room (c, keep, len);
  if (c->n_lines == c->lines_size)
    make_line_room (c, keep);
  memcpy (c->text + c->text_len, text, len);
  c->line_at[c->n_lines++] = c->text_at + c->text_len;
  c->text_len += len;

  /* The oldest lines leave a full window, but never the newest. */
  gsize bytes = window_bytes (c);
  while (bytes > r->match_max && c->window_seq + 1 < next_seq (c))
    {
      guint64 seq = c->window_seq;
      /* Unsearched: no step searches this window, or it has not come to
       * this line yet. */
      if (!scanning || r->cursor <= seq)
        c->window_dropped++;
      if (c->fail_on->len > 0 && r->running)
        check_fail_on (r, child, seq); /* before it is gone */
      bytes -= kept_line (c, seq).len + 1;
      c->window_seq++;
    }
}

/* ------------------------------------------------------------------ */
/* Waiting steps */

/* The waiting step is done: on to the next (at once, unless this is
 * called from within advance(), which goes on by itself). */
static void
step_done (ScriptRunner *r)
{
  end_wait (r);
  r->pos++;
  if (!r->advancing)
    advance (r);
}

/* How long the step may wait: send and write have no time of their own. */
static gint64
step_timeout (const ScriptStep *step)
{
  if (step->kind == STEP_SEND || step->kind == STEP_WRITE)
    return SCRIPT_DEFAULT_TIMEOUT_US;
  return step->timeout_us;
}

static gboolean
on_deadline (gpointer data)
{
  ScriptRunner *r = data;
  const ScriptStep *step = current_step (r);
  g_autofree char *after = script_format_duration (step_timeout (step));

  r->timer = 0;
  switch (step->kind)
    {
    case STEP_SLEEP:
    case STEP_REFUTE:
      step_done (r);
      break;
    case STEP_EXPECT:
      {
        g_autofree char *note = searched_note (r, step->child);
        fail (r, step, "no matching line within %s (%s)", after, note);
      }
      break;
    case STEP_WAIT:
      fail (r, step, "%s still running after %s", r->names[step->child], after);
      break;
    case STEP_SEND:
    case STEP_WRITE:
      fail (r, step, "%s, still after %s", r->blocked, after);
      break;
    default:
      fail (r, step, "%s not up within %s", r->names[step->child], after);
      break;
    }
  return G_SOURCE_REMOVE;
}

static void
wait_for (ScriptRunner *r, const ScriptStep *step, gboolean timed)
{
  r->waiting = TRUE;
  if (timed)
    r->timer = g_timeout_add_full (G_PRIORITY_DEFAULT, (guint) (step_timeout (step) / 1000),
                                   on_deadline, r, NULL);
}

static gboolean
on_scan_idle (gpointer data)
{
  ScriptRunner *r = data;
  r->scan_idle = 0;
  scan (r);
  return G_SOURCE_REMOVE;
}

static void
fail_costly (ScriptRunner *r, const ScriptStep *step, const Pattern *pattern, LineText line)
{
  g_autoptr (GString) shown = g_string_new (NULL);
  append_printable (shown, line);
  fail (r, step, "matching /%s/ costs too much on the line \"%s\" (a regex that "
        "backtracks without end: make it more specific)", pattern_source (pattern),
        shown->str);
}

/* Searches the window from the cursor for the current expect or refute
 * step, a slice at a time. */
static void
scan (ScriptRunner *r)
{
  const ScriptStep *step = r->searching;
  ChildState *c = &r->children[step->child];
  gint64 start = 0; /* when the scan first read the clock */

  if (r->scan_idle != 0)
    return; /* a slice is due: it goes on from the cursor */
  r->cursor = MAX (r->cursor, c->window_seq);
  while (r->cursor < next_seq (c))
    {
      LineText l = kept_line (c, r->cursor);
      MatchResult bad = MATCH_NONE, good;

      r->searched++;
      if (r->unless != NULL)
        {
          bad = match_line (r, r->unless, l, NULL);
          if (bad == MATCH_TOO_COSTLY)
            {
              fail_costly (r, step, r->unless, l);
              return;
            }
          if (bad == MATCH_FOUND)
            {
              g_autoptr (GString) shown = g_string_new (NULL);
              append_printable (shown, l);
              fail (r, step, "%s printed a line matching the unless pattern /%s/ "
                    "first: \"%s\"", r->names[step->child],
                    pattern_source (r->unless), shown->str);
              return;
            }
        }
      good = match_line (r, r->pattern, l, step->kind == STEP_EXPECT ? r->vars : NULL);
      if (good == MATCH_TOO_COSTLY)
        {
          fail_costly (r, step, r->pattern, l);
          return;
        }
      if (good == MATCH_FOUND && step->kind == STEP_EXPECT)
        {
          consume (c, r->cursor + 1);
          step_done (r);
          return;
        }
      if (good == MATCH_FOUND)
        {
          g_autoptr (GString) shown = g_string_new (NULL);
          append_printable (shown, l);
          fail (r, step, "%s printed a line matching /%s/: \"%s\"",
                r->names[step->child], pattern_source (r->pattern), shown->str);
          return;
        }
      r->cursor++;
      if (r->cursor < next_seq (c) && clock_due (r))
        {
          /* A slice of this scan (the only bound outside a dispatch), or
           * of the dispatch it runs in. */
          gint64 now = g_get_monotonic_time ();
          if (start == 0)
            start = now;
          if (now - start > SLICE_US || over_budget_at (now))
            {
              r->scan_idle = g_idle_add (on_scan_idle, r);
              return;
            }
        }
    }
  if (step->kind == STEP_EXPECT && c->ended)
    {
      g_autofree char *how = describe_end (c->status, c->term_signal);
      g_autofree char *note = searched_note (r, step->child);
      fail (r, step, "%s %s without printing a matching line (%s)",
            r->names[step->child], how, note);
    }
}

/* ------------------------------------------------------------------ */
/* Steps */

static gboolean
expand_text (ScriptRunner *r, const ScriptStep *step, ScriptExpandMode mode, GString *out)
{
  g_autoptr (GError) error = NULL;
  if (script_expand (step->text, mode, lookup, r, out, &error))
    return TRUE;
  fail (r, step, "%s", error->message);
  return FALSE;
}

static gboolean
run_send (ScriptRunner *r, const ScriptStep *step)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  if (!expand_text (r, step, step->kind == STEP_WRITE ? EXPAND_ESCAPES : EXPAND_PLAIN, text))
    return FALSE;
  if (step->kind == STEP_SEND)
    g_string_append_c (text, '\n');
  if (r->hooks.send (r->data, step->child, text->str, text->len, &error))
    return TRUE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    {
      /* Tried again when the child has read some. */
      r->blocked = g_strdup (error->message);
      wait_for (r, step, TRUE);
    }
  else
    fail (r, step, "%s", error->message);
  return FALSE;
}

/* expect and refute: search the window now, then each line as it comes. */
static gboolean
run_search (ScriptRunner *r, const ScriptStep *step)
{
  ChildState *c = &r->children[step->child];

  if (!c->running && !c->ended)
    {
      fail (r, step, "%s has not been started", r->names[step->child]);
      return FALSE;
    }
  r->pattern = resolve (r, step, &step->regex, &r->pattern_owned);
  if (r->pattern == NULL)
    return FALSE;
  if (step->unless.source != NULL)
    {
      r->unless = resolve (r, step, &step->unless, &r->unless_owned);
      if (r->unless == NULL)
        return FALSE;
    }
  wait_for (r, step, TRUE);
  r->searching = step;
  r->cursor = c->window_seq;
  scan (r);
  return FALSE; /* advance() goes on from step_done() */
}

static gboolean
run_fail_on (ScriptRunner *r, const ScriptStep *step)
{
  ChildState *c = &r->children[step->child];
  FailOn f = { .step = step };

  if (step->regex.source == NULL)
    {
      clear_fail_on (c);
      return TRUE;
    }
  f.pattern = resolve (r, step, &step->regex, &f.owned);
  if (f.pattern == NULL)
    return FALSE;
  g_array_append_val (c->fail_on, f);
  c->checked_before = next_seq (c); /* from here on */
  return TRUE;
}

static gboolean
wait_accepts (const ScriptStep *step, const ChildState *c)
{
  switch (step->accept)
    {
    case WAIT_EXIT:
      return c->term_signal == 0 && c->status == step->wait_value;
    case WAIT_SIGNAL:
      return c->term_signal == step->wait_value;
    case WAIT_ANY_END:
      return TRUE;
    }
  return FALSE;
}

static char *
describe_accept (const ScriptStep *step)
{
  switch (step->accept)
    {
    case WAIT_EXIT:
      return g_strdup_printf ("exit with status %d", step->wait_value);
    case WAIT_SIGNAL:
      return g_strdup_printf ("be killed by signal %d (SIG%s)", step->wait_value,
                              script_signal_name (step->wait_value));
    case WAIT_ANY_END:
      break;
    }
  return g_strdup ("end");
}

/* The child ended while a wait for it ran, or before: the verdict. */
static void
check_wait (ScriptRunner *r, const ScriptStep *step)
{
  ChildState *c = &r->children[step->child];
  if (wait_accepts (step, c))
    {
      c->end_expected = TRUE; /* consumed */
      step_done (r);
      return;
    }
  g_autofree char *how = describe_end (c->status, c->term_signal);
  g_autofree char *wanted = describe_accept (step);
  fail (r, step, "%s %s; it should %s", r->names[step->child], how, wanted);
}

static gboolean
run_wait (ScriptRunner *r, const ScriptStep *step)
{
  ChildState *c = &r->children[step->child];
  if (c->ended)
    {
      wait_for (r, step, FALSE);
      check_wait (r, step);
      return FALSE;
    }
  if (!c->running)
    {
      fail (r, step, "%s was never started", r->names[step->child]);
      return FALSE;
    }
  wait_for (r, step, TRUE);
  return FALSE;
}

static gboolean
run_start (ScriptRunner *r, const ScriptStep *step)
{
  ChildState *c = &r->children[step->child];
  g_autoptr (GError) error = NULL;

  if (c->running)
    {
      fail (r, step, "%s is running already (restart it, or wait for it first)",
            r->names[step->child]);
      return FALSE;
    }
  wait_for (r, step, FALSE);
  if (!r->hooks.start (r->data, step->child, &error))
    fail (r, step, "%s", error->message);
  return FALSE;
}

static gboolean
run_restart (ScriptRunner *r, const ScriptStep *step)
{
  ChildState *c = &r->children[step->child];
  g_autoptr (GError) error = NULL;

  c->end_expected = TRUE;
  c->restarting = c->running;
  wait_for (r, step, TRUE);
  if (!r->hooks.restart (r->data, step->child, &error))
    fail (r, step, "%s", error->message);
  return FALSE;
}

static gboolean
run_signal (ScriptRunner *r, const ScriptStep *step)
{
  ChildState *c = &r->children[step->child];
  g_autoptr (GError) error = NULL;

  if (!c->running)
    {
      fail (r, step, "%s is not running", r->names[step->child]);
      return FALSE;
    }
  /* Those that stop or continue a process, or that it ignores unless it
   * asks for them, do not end it. */
  static const int harmless[] = { SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT,
                                  SIGCHLD, SIGURG, SIGWINCH };
  gboolean ends = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (harmless); i++)
    ends &= step->signum != harmless[i];
  if (ends)
    c->signal_sent = step->signum;
  if (!r->hooks.signal (r->data, step->child, step->signum, &error))
    {
      fail (r, step, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
run_set (ScriptRunner *r, const ScriptStep *step)
{
  g_autoptr (GString) value = g_string_new (NULL);
  if (!expand_text (r, step, EXPAND_PLAIN, value))
    return FALSE;
  g_hash_table_insert (r->vars, g_strdup (step->var), g_string_free (g_steal_pointer (&value), FALSE));
  return TRUE;
}

static void
set_i (ScriptRunner *r, guint64 i)
{
  g_hash_table_insert (r->vars, g_strdup ("i"), g_strdup_printf ("%" G_GUINT64_FORMAT, i));
}

/* repeat: the loop begins, or is skipped when its count is 0. */
static gboolean
run_repeat (ScriptRunner *r, const ScriptStep *step)
{
  g_autoptr (GString) text = g_string_new (NULL);
  guint64 count;

  if (!expand_text (r, step, EXPAND_PLAIN, text))
    return FALSE;
  if (!g_ascii_string_to_unsigned (text->str, 10, 0, G_MAXUINT32, &count, NULL))
    {
      fail (r, step, "the count '%s' is not a whole number from 0 to %u", text->str,
            G_MAXUINT32);
      return FALSE;
    }
  if (count == 0)
    {
      r->pos = step->jump; /* then past the end */
      return TRUE;
    }
  const char *saved = g_hash_table_lookup (r->vars, "i");
  Loop loop = { .end = step->jump, .count = count, .saved_i = g_strdup (saved) };
  g_array_append_val (r->loops, loop);
  set_i (r, 0);
  return TRUE;
}

/* end: back to the first step of the loop, or out of it. */
static gboolean
run_end (ScriptRunner *r, const ScriptStep *step)
{
  Loop *loop = &g_array_index (r->loops, Loop, r->loops->len - 1);
  if (++loop->i < loop->count)
    {
      set_i (r, loop->i);
      r->pos = step->jump; /* then its first step */
      return TRUE;
    }
  if (loop->saved_i != NULL)
    g_hash_table_insert (r->vars, g_strdup ("i"), g_steal_pointer (&loop->saved_i));
  else
    g_hash_table_remove (r->vars, "i");
  g_array_set_size (r->loops, r->loops->len - 1);
  return TRUE;
}

/* Runs one step; TRUE to go on to the next at once. */
static gboolean
run_step (ScriptRunner *r, const ScriptStep *step)
{
  switch (step->kind)
    {
    case STEP_SEND:
    case STEP_WRITE:
      return run_send (r, step);
    case STEP_EXPECT:
    case STEP_REFUTE:
      return run_search (r, step);
    case STEP_FAIL_ON:
      return run_fail_on (r, step);
    case STEP_SLEEP:
      wait_for (r, step, TRUE);
      return FALSE;
    case STEP_CLOSE:
      r->children[step->child].end_expected = TRUE;
      r->hooks.close_input (r->data, step->child);
      return TRUE;
    case STEP_START:
      return run_start (r, step);
    case STEP_SIGNAL:
      return run_signal (r, step);
    case STEP_RESTART:
      return run_restart (r, step);
    case STEP_WAIT:
      return run_wait (r, step);
    case STEP_SET:
      return run_set (r, step);
    case STEP_REPEAT:
      return run_repeat (r, step);
    case STEP_END:
      return run_end (r, step);
    }
  g_assert_not_reached ();
}

static gboolean
on_advance_idle (gpointer data)
{
  ScriptRunner *r = data;
  r->advance_idle = 0;
  advance (r);
  return G_SOURCE_REMOVE;
}

/* Runs steps until one has to wait, the script fails, or it ends. */
static void
advance (ScriptRunner *r)
{
  gint64 start = g_get_monotonic_time ();

  if (r->advance_idle != 0)
    return;
  r->advancing = TRUE;
  while (r->running && !r->waiting && r->pos < r->script->steps->len)
    {
      if (g_get_monotonic_time () - start > SLICE_US)
        {
          r->advance_idle = g_idle_add (on_advance_idle, r);
          break;
        }
      /* A step that waits moves on in step_done(); repeat and end move
       * r->pos to the step before the one to run next. */
      if (run_step (r, g_ptr_array_index (r->script->steps, r->pos)))
        r->pos++;
    }
  r->advancing = FALSE;
  if (r->running && !r->waiting && r->advance_idle == 0 &&
      r->pos >= r->script->steps->len)
    {
      r->running = FALSE;
      r->finished = TRUE;
      r->hooks.finished (r->data, NULL);
    }
}

void
script_runner_start (ScriptRunner *r)
{
  r->started = TRUE;
  r->running = TRUE;
  advance (r);
}

/* ------------------------------------------------------------------ */
/* What the harness tells */

static void
check_fail_on (ScriptRunner *r, guint child, guint64 seq)
{
  ChildState *c = &r->children[child];

  if (seq < c->checked_before)
    return;
  c->checked_before = seq + 1;
  LineText line = kept_line (c, seq);
  for (guint i = 0; i < c->fail_on->len && r->running; i++)
    {
      FailOn *f = &g_array_index (c->fail_on, FailOn, i);
      MatchResult m = match_line (r, f->pattern, line, NULL);
      if (m == MATCH_NONE)
        continue;
      g_autoptr (GString) shown = g_string_new (NULL);
      append_printable (shown, line);
      const ScriptStep *step = current_step (r);
      g_autofree char *during = step != NULL
        ? g_strdup_printf (" while line %u ran (%s)", step->line_no, step->source)
        : g_strdup ("");
      if (m == MATCH_TOO_COSTLY)
        fail_with (r, f->step, child, "matching /%s/ costs too much on the line \"%s\"%s",
                   pattern_source (f->pattern), shown->str, during);
      else
        fail_with (r, f->step, child, "%s printed \"%s\"%s", r->names[child],
                   shown->str, during);
    }
}

/* Checks the lines of every child against its fail-on patterns, and
 * searches for the waiting step, until done or the slice is used up. */
static gboolean
process_lines (ScriptRunner *r)
{
  for (guint i = 0; i < r->n_children && r->running; i++)
    {
      ChildState *c = &r->children[i];
      if (c->fail_on->len == 0)
        continue;
      for (guint64 seq = MAX (c->checked_before, c->window_seq);
           seq < next_seq (c) && r->running; seq++)
        {
          check_fail_on (r, i, seq);
          if (clock_due (r) && over_budget ())
            return FALSE;
        }
    }
  if (r->searching != NULL)
    scan (r);
  return TRUE;
}

static gboolean
on_lines_idle (gpointer data)
{
  ScriptRunner *r = data;
  if (!process_lines (r))
    return G_SOURCE_CONTINUE;
  r->lines_idle = 0;
  return G_SOURCE_REMOVE;
}

void
script_runner_line (ScriptRunner *r, guint child, const char *line, gsize len)
{
  ChildState *c = &r->children[child];

  if (r->finished)
    return;
  gboolean scanning = r->searching != NULL && r->searching->child == child;
  add_line (r, child, line, len, scanning);
  if (!r->running)
    return;
  /* The dispatch that hands out lines may hand out thousands: past its
   * slice, matching waits for the next iteration, so that signals and
   * timers are not kept waiting. */
  if (r->lines_idle != 0 || (clock_due (r) && over_budget ()))
    {
      if (r->lines_idle == 0)
        r->lines_idle = g_idle_add (on_lines_idle, r);
      return;
    }
  if (c->fail_on->len > 0)
    check_fail_on (r, child, next_seq (c) - 1);
  if (r->searching != NULL && r->searching->child == child)
    scan (r);
}

void
script_runner_child_started (ScriptRunner *r, guint child)
{
  ChildState *c = &r->children[child];
  c->running = TRUE;
  c->ready = FALSE;
  c->ended = FALSE;
  c->end_expected = FALSE;
  c->signal_sent = 0;
  c->restarting = FALSE;
  consume (c, next_seq (c));
}

void
script_runner_child_ready (ScriptRunner *r, guint child)
{
  ChildState *c = &r->children[child];
  c->ready = TRUE;
  consume (c, next_seq (c)); /* the --ready line and those before it */
  if (waiting_on (r, child, STEP_START) || waiting_on (r, child, STEP_RESTART))
    step_done (r);
}

void
script_runner_child_ended (ScriptRunner *r, guint child, int status, int term_signal)
{
  ChildState *c = &r->children[child];
  const char *name = r->names[child];

  c->running = FALSE;
  c->ready = FALSE;
  c->ended = TRUE;
  c->status = status;
  c->term_signal = term_signal;
  if (r->finished)
    return;

  g_autofree char *how = describe_end (status, term_signal);
  const ScriptStep *step = current_step (r);
  if (c->restarting)
    {
      c->restarting = FALSE; /* the old process, as asked */
      return;
    }
  if (waiting_on (r, child, STEP_WAIT))
    check_wait (r, step);
  else if (waiting_on (r, child, STEP_START) || waiting_on (r, child, STEP_RESTART))
    fail (r, step, "%s %s before it was up", name, how);
  else if ((status != 0 || term_signal != 0) && !end_asked (c, term_signal))
    fail_with (r, r->started ? step : NULL, child, "%s %s%s", name, how,
               r->started ? "" : " before the script started");
  else if (waiting_on (r, child, STEP_EXPECT) && r->scan_idle == 0 &&
           MAX (r->cursor, c->window_seq) == next_seq (c))
    scan (r); /* fails: nothing more will come */
}

void
script_runner_input_room (ScriptRunner *r, guint child)
{
  const ScriptStep *step = current_step (r);
  if (!waiting_on (r, child, STEP_SEND) && !waiting_on (r, child, STEP_WRITE))
    return;
  end_wait (r);
  if (run_send (r, step))
    step_done (r);
}
