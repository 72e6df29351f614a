/* Fuzzes the script parser: whatever the text, it parses or says why in a
 * "PATH:LINE: …" message, and never crashes or leaks; durations likewise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "script.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const char *const names[] = { "A", "B", "server", NULL };
  GError *error = NULL;

  Script *script = script_parse ("f.script", (const char *) data, size, names, &error);
  if (script == NULL)
    {
      if (error == NULL || !g_str_has_prefix (error->message, "f.script:"))
        abort (); /* every refusal names the script */
      g_clear_error (&error);
    }
  else
    {
      for (guint i = 0; i < script->steps->len; i++)
        {
          ScriptStep *step = g_ptr_array_index (script->steps, i);
          if (step->line_no == 0 || step->timeout_us < 0 ||
              step->timeout_us > SCRIPT_MAX_TIMEOUT_US)
            abort ();
          if (step->kind == STEP_EXPECT && step->regex == NULL)
            abort ();
        }
      script_free (script);
    }

  /* The same bytes as a duration. */
  char *text = g_strndup ((const char *) data, MIN (size, 64));
  gint64 us = -1;
  if (script_parse_duration (text, &us, &error))
    {
      if (us < 0 || us > SCRIPT_MAX_TIMEOUT_US)
        abort ();
    }
  else
    g_clear_error (&error);
  g_free (text);
  return 0;
}
