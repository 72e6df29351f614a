/* Fuzzes the script parser: whatever the text, it parses or says why in a
 * "PATH:LINE: …" message, never crashes or leaks, and every step it
 * returns is consistent (children, timeouts, signals, repeat/end jumps,
 * compiled patterns, texts that expand); durations, signal names and
 * ${var} expansion likewise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"

static const char *const names[] = { "A", "B", "server", NULL };
static const char *const vars[] = { "ready", NULL };

static void
check (gboolean ok)
{
  if (!ok)
    abort ();
}

/* Whether text holds a ${var}, "$${" being none: the parser leaves such a
 * pattern to be compiled when it runs. */
static gboolean
holds_variable (const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      if (strncmp (p, "$${", 3) == 0)
        p += 2;
      else if (strncmp (p, "${", 2) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
check_regex (const ScriptRegex *regex, const char *line, gboolean optional)
{
  if (regex->source == NULL)
    {
      check (optional && regex->pattern == NULL);
      return;
    }
  check (g_utf8_validate (regex->source, -1, NULL));
  check ((regex->pattern == NULL) == holds_variable (regex->source));
  if (regex->pattern != NULL)
    {
      GHashTable *captures = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                    g_free, g_free);
      MatchResult result = pattern_match (regex->pattern, line, strlen (line),
                                          captures);
      check (result == MATCH_FOUND || g_hash_table_size (captures) == 0);
      g_hash_table_unref (captures);
    }
}

/* Every value is known: the parser has checked that each variable is. */
static const char *
lookup_any (const char *name, gpointer data)
{
  (void) name;
  (void) data;
  return "${x}\\q";
}

static void
check_expands (const char *text, ScriptExpandMode mode)
{
  GString *out = g_string_new (NULL);
  check (text != NULL && script_expand (text, mode, lookup_any, NULL, out, NULL));
  g_string_free (out, TRUE);
}

static void
check_step (const Script *script, guint i, guint previous_line)
{
  const ScriptStep *step = g_ptr_array_index (script->steps, i);
  const guint n_steps = script->steps->len;

  check (step->line_no > previous_line && step->source != NULL);
  check (step->timeout_us >= 0 && step->timeout_us <= SCRIPT_MAX_TIMEOUT_US);
  if (script_step_has_child (step->kind))
    check (step->child < g_strv_length ((char **) names));

  switch (step->kind)
    {
    case STEP_SEND:
      check_expands (step->text, EXPAND_PLAIN);
      break;
    case STEP_WRITE:
      check_expands (step->text, EXPAND_ESCAPES);
      break;
    case STEP_EXPECT:
      check_regex (&step->regex, step->source, FALSE);
      check_regex (&step->unless, step->source, TRUE);
      break;
    case STEP_REFUTE:
      check_regex (&step->regex, step->source, FALSE);
      break;
    case STEP_FAIL_ON:
      check_regex (&step->regex, step->source, TRUE);
      break;
    case STEP_SIGNAL:
      check (step->signum >= 1 && step->signum <= 64);
      break;
    case STEP_WAIT:
      if (step->accept == WAIT_EXIT)
        check (step->wait_value >= 0 && step->wait_value <= 255);
      else if (step->accept == WAIT_SIGNAL)
        check (step->wait_value >= 1 && step->wait_value <= 64);
      else
        check (step->accept == WAIT_ANY_END);
      break;
    case STEP_SET:
      check (step->var != NULL && *step->var != '\0');
      check_expands (step->text, EXPAND_PLAIN);
      break;
    case STEP_REPEAT:
      {
        check (step->jump > i && step->jump < n_steps);
        const ScriptStep *end = g_ptr_array_index (script->steps, step->jump);
        check (end->kind == STEP_END && end->jump == i);
        check_expands (step->text, EXPAND_PLAIN);
        break;
      }
    case STEP_END:
      {
        check (step->jump < i);
        const ScriptStep *repeat = g_ptr_array_index (script->steps, step->jump);
        check (repeat->kind == STEP_REPEAT && repeat->jump == i);
        break;
      }
    case STEP_SLEEP:
    case STEP_CLOSE:
    case STEP_START:
    case STEP_RESTART:
      break;
    default:
      abort ();
    }
}

static const char *
lookup_some (const char *name, gpointer data)
{
  (void) data;
  return strlen (name) % 2 == 0 ? "(.*)\\E$" : NULL;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;

  Script *script = script_parse ("f.script", (const char *) data, size, names,
                                 vars, &error);
  if (script == NULL)
    {
      check (error != NULL && g_str_has_prefix (error->message, "f.script:"));
      g_clear_error (&error);
    }
  else
    {
      guint previous_line = 0;
      for (guint i = 0; i < script->steps->len; i++)
        {
          check_step (script, i, previous_line);
          previous_line = ((ScriptStep *) g_ptr_array_index (script->steps, i))->line_no;
        }
      script_free (script);
    }

  /* The same bytes as a duration, a signal and a text to expand. */
  char *text = g_strndup ((const char *) data, MIN (size, 64));
  gint64 us = -1;
  if (script_parse_duration (text, &us, &error))
    check (us >= 0 && us <= SCRIPT_MAX_TIMEOUT_US);
  else
    g_clear_error (&error);
  int signum = script_parse_signal (text);
  check (signum >= 0 && signum <= 64);
  if (signum != 0)
    check (script_parse_signal (script_signal_name (signum)) == signum);
  g_free (text);

  text = g_strndup ((const char *) data, size);
  for (ScriptExpandMode mode = EXPAND_PLAIN; mode <= EXPAND_REGEX; mode++)
    {
      GString *out = g_string_new (NULL);
      if (!script_expand (text, mode, lookup_some, NULL, out, &error))
        {
          check (error != NULL);
          g_clear_error (&error);
        }
      g_string_free (out, TRUE);
    }
  g_free (text);
  return 0;
}
