/* json: formatting output lines as JSON objects; see json.h. */
#include "json.h"

#include <string.h>

#define FIXED_OVERHEAD 256

gsize
json_line_bound (gsize len)
{
  /* "line": at worst 6 bytes per input byte (\u00XX); "line_base64": 4 per
   * 3; the time, name and keys: a fixed overhead (names are short). */
  return 6 * len + (len + 2) / 3 * 4 + FIXED_OVERHEAD;
}

static char *
put (char *p, const char *s)
{
  gsize n = strlen (s);
  memcpy (p, s, n);
  return p + n;
}

/* s (valid UTF-8, or not when lossy) as the inside of a JSON string. */
static char *
put_escaped (char *p, const char *s, gsize len, gboolean lossy)
{
  static const char hex[] = "0123456789abcdef";
  const char *end = s + len;

  while (s < end)
    {
      guchar c = (guchar) *s;
      if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80)
        {
          *p++ = (char) c;
          s++;
          continue;
        }
      if (c >= 0x80)
        {
          const char *next = s;
          if (lossy && g_utf8_get_char_validated (s, end - s) >= 0x110000)
            {
              p = put (p, "\xef\xbf\xbd"); /* U+FFFD for one bad byte */
              s++;
              continue;
            }
          next = g_utf8_next_char (s);
          memcpy (p, s, next - s);
          p += next - s;
          s = next;
          continue;
        }
      *p++ = '\\';
      switch (c)
        {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
          p = put (p, "u00");
          *p++ = hex[c >> 4];
          *p++ = hex[c & 15];
        }
      s++;
    }
  return p;
}

gsize
json_format_line (char *dst, const char *time, const char *name,
                  const char *stream, const char *line, gsize len,
                  gboolean partial)
{
  gboolean valid = g_utf8_validate_len (line, len, NULL);
  char *p = dst;

  p = put (p, "{\"time\":\"");
  p = put (p, time);
  p = put (p, "\",\"name\":\"");
  p = put_escaped (p, name, strlen (name), TRUE);
  p = put (p, "\",\"stream\":\"");
  p = put (p, stream);
  p = put (p, "\",\"line\":\"");
  p = put_escaped (p, line, len, !valid);
  p = put (p, "\"");
  if (!valid)
    {
      gint state = 0, save = 0;
      p = put (p, ",\"line_base64\":\"");
      p += g_base64_encode_step ((const guchar *) line, len, FALSE, p, &state, &save);
      p += g_base64_encode_close (FALSE, p, &state, &save);
      p = put (p, "\"");
    }
  if (partial)
    p = put (p, ",\"partial\":true");
  p = put (p, "}\n");
  return p - dst;
}

void
json_format_time (char out[32], gint64 real_time_us)
{
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (real_time_us / G_USEC_PER_SEC);
  g_autofree char *seconds = g_date_time_format (t, "%Y-%m-%dT%H:%M:%S");
  g_snprintf (out, 32, "%s.%03dZ", seconds, (int) (real_time_us % G_USEC_PER_SEC / 1000));
}
