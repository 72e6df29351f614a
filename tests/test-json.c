/* Unit tests of pipe-harness's JSON lines and Procfile reading. */
#include <string.h>

#include "json.h"
#include "procfile.h"

static char *
format (const char *line, gsize len, gboolean partial)
{
  char *out = g_malloc (json_line_bound (len));
  gsize n = json_format_line (out, "2026-01-02T03:04:05.678Z", "A", "stdout",
                              line, len, partial);
  g_assert_cmpuint (n, <=, json_line_bound (len));
  out[n - 1] = '\0'; /* the newline */
  return out;
}

static void
test_json_plain (void)
{
  g_autofree char *out = format ("hello", 5, FALSE);
  g_assert_cmpstr (out, ==, "{\"time\":\"2026-01-02T03:04:05.678Z\",\"name\":\"A\","
                            "\"stream\":\"stdout\",\"line\":\"hello\"}");
}

static void
test_json_escapes (void)
{
  static const char line[] = "q\"b\\t\tn\x01 caf\xc3\xa9 \xe2\x82\xac";
  g_autofree char *out = format (line, sizeof line - 1, TRUE);
  g_assert_nonnull (strstr (out, "\"line\":\"q\\\"b\\\\t\\tn\\u0001 caf\xc3\xa9 \xe2\x82\xac\""));
  g_assert_null (strstr (out, "line_base64"));
  g_assert_true (g_str_has_suffix (out, ",\"partial\":true}"));
}

/* Bytes that are not UTF-8: U+FFFD in "line", the exact bytes in base64. */
static void
test_json_invalid_utf8 (void)
{
  static const char line[] = "a\xff\0b\xc3";
  g_autofree char *out = format (line, sizeof line - 1, FALSE);
  g_autofree char *b64 = g_base64_encode ((const guchar *) line, sizeof line - 1);
  g_autofree char *expected = g_strdup_printf ("\"line\":\"a\xef\xbf\xbd\\u0000b\xef\xbf\xbd\","
                                               "\"line_base64\":\"%s\"}", b64);
  g_assert_true (g_str_has_suffix (out, expected));
}

static void
test_json_bound (void)
{
  /* The worst case: every byte a control character, and not UTF-8. */
  char line[300];
  memset (line, 1, sizeof line);
  line[0] = (char) 0xff;
  g_autofree char *out = format (line, sizeof line, TRUE);
  g_assert_cmpuint (strlen (out), <, json_line_bound (sizeof line));
}

static void
test_json_time (void)
{
  char out[32];
  json_format_time (out, (gint64) 1764072896 * G_USEC_PER_SEC + 789123);
  g_assert_cmpstr (out, ==, "2025-11-25T12:14:56.789Z");
}

static void
test_procfile_parse (void)
{
  static const char text[] = "# services\n\nweb: ./server --port 8080\n"
                             "worker:   python3 worker.py  \r\n";
  g_auto (GStrv) names = NULL, commands = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (procfile_parse ("Procfile", text, sizeof text - 1, &names, &commands, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_cmpstr (names[0], ==, "web");
  g_assert_cmpstr (commands[0], ==, "./server --port 8080");
  g_assert_cmpstr (names[1], ==, "worker");
  g_assert_cmpstr (commands[1], ==, "python3 worker.py");
}

static void
test_procfile_errors (void)
{
  static const struct {
    const char *text;
    const char *message;
  } cases[] = {
    { "web ./server", "Procfile:1: expected 'name: command'" },
    { "\nweb:\n", "Procfile:2: 'web' has no command" },
    { "a b: x", "Procfile:1: expected 'name: command'" },
    { "web: a\nweb: b", "Procfile:2: 'web' is named twice" },
    { "# nothing\n", "Procfile: no 'name: command' line in it" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_auto (GStrv) names = NULL, commands = NULL;
      g_autoptr (GError) error = NULL;
      g_assert_false (procfile_parse ("Procfile", cases[i].text, strlen (cases[i].text),
                                      &names, &commands, &error));
      g_assert_nonnull (error);
      if (!g_str_has_prefix (error->message, cases[i].message))
        g_error ("'%s': expected '%s…', got '%s'", cases[i].text, cases[i].message,
                 error->message);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json/plain", test_json_plain);
  g_test_add_func ("/json/escapes", test_json_escapes);
  g_test_add_func ("/json/invalid-utf8", test_json_invalid_utf8);
  g_test_add_func ("/json/bound", test_json_bound);
  g_test_add_func ("/json/time", test_json_time);
  g_test_add_func ("/procfile/parse", test_procfile_parse);
  g_test_add_func ("/procfile/errors", test_procfile_errors);
  return g_test_run ();
}
