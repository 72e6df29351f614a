/* Fuzzes the JSON lines: any bytes make one object on one line, within the
 * bound, valid UTF-8 with no raw control character; and a Procfile parses
 * or says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "procfile.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  gsize bound = json_line_bound (size);
  char *out = g_malloc (bound);
  gsize n = json_format_line (out, "2026-01-01T00:00:00.000Z", "A", "stdout",
                              (const char *) data, size, size % 2);
  if (n > bound || n < 2 || out[n - 1] != '\n' || out[n - 2] != '}')
    abort ();
  if (!g_utf8_validate_len (out, n, NULL))
    abort (); /* JSON text must be UTF-8 */
  for (gsize i = 0; i + 1 < n; i++)
    if ((unsigned char) out[i] < 0x20)
      abort (); /* control characters must be escaped */
  g_free (out);

  GStrv names = NULL, commands = NULL;
  GError *error = NULL;
  if (procfile_parse ("Procfile", (const char *) data, size, &names, &commands, &error))
    {
      if (g_strv_length (names) != g_strv_length (commands) || names[0] == NULL)
        abort ();
      g_strfreev (names);
      g_strfreev (commands);
    }
  else
    g_clear_error (&error);
  return 0;
}
