/* script-run: plays a parsed script as the children's lines arrive; see
 * script-run.h. */
#include "script-run.h"

#include <string.h>

/* Lines kept per child for expect (since its last match) and for failure
 * reports (the last few, whatever matched). */
#define MAX_UNMATCHED_LINES 10000
#define LAST_LINES_SHOWN 5

typedef struct {
  GQueue unmatched; /* GBytes: lines since the last match, oldest first */
  GQueue last;      /* GBytes: the last LAST_LINES_SHOWN lines */
  char *gone;       /* how it ended, once it is gone */
} ChildLines;

struct ScriptRunner {
  const Script *script;
  const char *const *names;
  ScriptHooks hooks;
  gpointer data;
  ChildLines *children;
  guint n_children;
  GHashTable *vars; /* captured by named groups */
  guint pos;        /* the current step */
  guint timer;      /* the current step's deadline, while it waits */
  gboolean running;
  gboolean finished;
};

ScriptRunner *
script_runner_new (const Script *script, const char *const *names,
                   const ScriptHooks *hooks, gpointer data)
{
  ScriptRunner *r = g_new0 (ScriptRunner, 1);
  r->script = script;
  r->names = names;
  r->hooks = *hooks;
  r->data = data;
  r->n_children = g_strv_length ((char **) names);
  r->children = g_new0 (ChildLines, r->n_children);
  r->vars = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return r;
}

void
script_runner_free (ScriptRunner *r)
{
  g_clear_handle_id (&r->timer, g_source_remove);
  for (guint i = 0; i < r->n_children; i++)
    {
      g_queue_clear_full (&r->children[i].unmatched, (GDestroyNotify) g_bytes_unref);
      g_queue_clear_full (&r->children[i].last, (GDestroyNotify) g_bytes_unref);
      g_free (r->children[i].gone);
    }
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
  g_clear_handle_id (&r->timer, g_source_remove);
  r->running = FALSE;
  r->finished = TRUE;
}

static char *
format_duration (gint64 us)
{
  if (us % G_USEC_PER_SEC == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "s", us / G_USEC_PER_SEC);
  if (us < G_USEC_PER_SEC)
    return g_strdup_printf ("%" G_GINT64_FORMAT "ms", us / 1000);
  return g_strdup_printf ("%.3gs", (double) us / G_USEC_PER_SEC);
}

/* A child's line made fit for a one-line report: control bytes and bytes
 * that are not UTF-8 shown as \xNN. */
static void
append_printable (GString *out, GBytes *line)
{
  gsize len;
  const char *p = g_bytes_get_data (line, &len);
  const char *end = p + len;

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
}

static void G_GNUC_PRINTF (3, 4)
fail (ScriptRunner *r, const ScriptStep *step, const char *format, ...)
{
  g_autoptr (GString) report = g_string_new (NULL);
  va_list ap;

  g_string_append_printf (report, "%s:%u: %s: ", r->script->path,
                          step->line_no, step->source);
  va_start (ap, format);
  g_string_append_vprintf (report, format, ap);
  va_end (ap);

  if (script_step_has_child (step->kind))
    {
      ChildLines *c = &r->children[step->child];
      const char *name = r->names[step->child];
      if (c->last.length == 0)
        g_string_append_printf (report, "\n%s printed nothing", name);
      else
        g_string_append_printf (report, "\n%s printed last:", name);
      for (GList *l = c->last.head; l != NULL; l = l->next)
        {
          g_string_append (report, "\n  | ");
          append_printable (report, l->data);
        }
    }

  g_clear_handle_id (&r->timer, g_source_remove);
  r->running = FALSE;
  r->finished = TRUE;
  r->hooks.finished (r->data, report->str);
}

/* Whether the line matches; a pattern that blows up on it fails the
 * script. */
static gboolean
line_matches (ScriptRunner *r, const ScriptStep *step, GBytes *line)
{
  gsize len;
  const char *data = g_bytes_get_data (line, &len);

  switch (pattern_match (step->regex.pattern, data, len, r->vars))
    {
    case MATCH_FOUND:
      return TRUE;
    case MATCH_NONE:
      return FALSE;
    case MATCH_TOO_COSTLY:
      fail (r, step, "the regex is too costly to match a line of %zu bytes", len);
      return FALSE;
    }
  g_assert_not_reached ();
}

/* Looks for a match among the lines since the last one; a match consumes
 * every line up to and including it. */
static gboolean
expect_from_unmatched (ScriptRunner *r, const ScriptStep *step)
{
  GQueue *unmatched = &r->children[step->child].unmatched;
  guint i = 0;

  for (GList *l = unmatched->head; l != NULL && r->running; l = l->next, i++)
    if (line_matches (r, step, l->data))
      {
        for (guint n = 0; n <= i; n++)
          g_bytes_unref (g_queue_pop_head (unmatched));
        return TRUE;
      }
  return FALSE;
}

static const char *
lookup_runtime (const char *name, gpointer data)
{
  ScriptRunner *r = data;
  const char *value = g_hash_table_lookup (r->vars, name);
  return value != NULL ? value : g_getenv (name);
}

static gboolean
run_send (ScriptRunner *r, const ScriptStep *step)
{
  g_autoptr (GString) text = g_string_new (NULL);
  g_autoptr (GError) error = NULL;

  if (!script_expand (step->text, EXPAND_PLAIN, lookup_runtime, r, text, &error))
    {
      fail (r, step, "%s", error->message);
      return FALSE;
    }
  g_string_append_c (text, '\n');
  if (!r->hooks.send (r->data, step->child, text->str, text->len, &error))
    {
      fail (r, step, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

static void advance (ScriptRunner *r);

static gboolean
on_step_deadline (gpointer data)
{
  ScriptRunner *r = data;
  const ScriptStep *step = g_ptr_array_index (r->script->steps, r->pos);
  g_autofree char *after = format_duration (step->timeout_us);

  r->timer = 0;
  switch (step->kind)
    {
    case STEP_SLEEP:
      r->pos++;
      advance (r);
      break;
    case STEP_EXPECT:
      fail (r, step, "no matching line within %s", after);
      break;
    default:
      fail (r, step, "%s still running after %s", r->names[step->child], after);
      break;
    }
  return G_SOURCE_REMOVE;
}

static void
wait_for (ScriptRunner *r, const ScriptStep *step)
{
  r->timer = g_timeout_add ((guint) (step->timeout_us / 1000), on_step_deadline, r);
}

/* What this runner plays: the steps of the first version of the language,
 * without what came with the second. */
static gboolean
supported (const ScriptStep *step)
{
  switch (step->kind)
    {
    case STEP_SEND:
    case STEP_SLEEP:
    case STEP_CLOSE:
      return TRUE;
    case STEP_EXPECT:
      return step->regex.pattern != NULL && step->unless.source == NULL;
    case STEP_WAIT:
      return step->accept == WAIT_EXIT && step->wait_value == 0;
    default:
      return FALSE;
    }
}

/* Runs steps until one has to wait, the script fails, or it ends. */
static void
advance (ScriptRunner *r)
{
  while (r->running && r->pos < r->script->steps->len)
    {
      const ScriptStep *step = g_ptr_array_index (r->script->steps, r->pos);
      ChildLines *c = script_step_has_child (step->kind) ? &r->children[step->child] : NULL;

      if (!supported (step))
        {
          fail (r, step, "not supported yet");
          return;
        }

      switch (step->kind)
        {
        case STEP_SEND:
          if (!run_send (r, step))
            return;
          break;
        case STEP_CLOSE:
          r->hooks.close_input (r->data, step->child);
          break;
        case STEP_EXPECT:
          if (expect_from_unmatched (r, step))
            break;
          if (!r->running)
            return;
          if (c->gone != NULL)
            {
              fail (r, step, "%s %s without printing a matching line",
                    r->names[step->child], c->gone);
              return;
            }
          wait_for (r, step);
          return;
        case STEP_SLEEP:
          wait_for (r, step);
          return;
        case STEP_WAIT:
          if (c->gone != NULL)
            break;
          wait_for (r, step);
          return;
        default:
          g_assert_not_reached ();
        }
      r->pos++;
    }
  if (r->running)
    {
      r->running = FALSE;
      r->finished = TRUE;
      r->hooks.finished (r->data, NULL);
    }
}

void
script_runner_start (ScriptRunner *r)
{
  r->running = TRUE;
  advance (r);
}

static const ScriptStep *
waiting_step (ScriptRunner *r, guint child, StepKind kind)
{
  if (!r->running || r->timer == 0)
    return NULL;
  const ScriptStep *step = g_ptr_array_index (r->script->steps, r->pos);
  return step->kind == kind && step->child == child ? step : NULL;
}

void
script_runner_line (ScriptRunner *r, guint child, const char *line, gsize len)
{
  ChildLines *c = &r->children[child];

  if (r->finished)
    return;
  GBytes *bytes = g_bytes_new (line, len);
  g_queue_push_tail (&c->last, g_bytes_ref (bytes));
  if (c->last.length > LAST_LINES_SHOWN)
    g_bytes_unref (g_queue_pop_head (&c->last));

  const ScriptStep *step = waiting_step (r, child, STEP_EXPECT);
  gboolean matched = step != NULL && line_matches (r, step, bytes);
  if (r->finished)
    {
      g_bytes_unref (bytes);
      return;
    }
  if (matched)
    {
      g_bytes_unref (bytes);
      g_clear_handle_id (&r->timer, g_source_remove);
      r->pos++;
      advance (r);
      return;
    }
  g_queue_push_tail (&c->unmatched, bytes);
  if (c->unmatched.length > MAX_UNMATCHED_LINES)
    g_bytes_unref (g_queue_pop_head (&c->unmatched));
}

void
script_runner_child_gone (ScriptRunner *r, guint child, const char *how)
{
  ChildLines *c = &r->children[child];
  const ScriptStep *step;

  if (r->finished || c->gone != NULL)
    return;
  c->gone = g_strdup (how);
  if ((step = waiting_step (r, child, STEP_EXPECT)) != NULL)
    fail (r, step, "%s %s without printing a matching line", r->names[child], how);
  else if ((step = waiting_step (r, child, STEP_WAIT)) != NULL)
    {
      g_clear_handle_id (&r->timer, g_source_remove);
      r->pos++;
      advance (r);
    }
}
