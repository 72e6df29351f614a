/* match: the regular expressions of scripts and --ready, on PCRE2 directly.
 *
 * A Pattern is compiled twice: for lines that are valid UTF-8 (PCRE2_UTF,
 * so that "." is one character) and byte-wise for lines that are not, and
 * JIT-compiled where the machine allows.  Every match runs under a cost
 * limit (PCRE2's match and depth limits, and a bounded JIT stack), so that a
 * pattern that blows up on a line fails with MATCH_TOO_COSTLY instead of
 * holding the caller: one match never takes more than a few milliseconds.
 * Named groups, (?<name>…), are captured as variables.
 */
#pragma once

#include <glib.h>

#define MATCH_ERROR (match_error_quark ())
GQuark match_error_quark (void);

typedef struct Pattern Pattern;

typedef enum {
  MATCH_NONE,        /* the line does not match */
  MATCH_FOUND,       /* it does; captures are set */
  MATCH_TOO_COSTLY,  /* the cost limit was reached: a pattern that blows up
                      * (also any other failure PCRE2 reports, like memory) */
} MatchResult;

/* Compiles source, the text between the slashes of /…/.  A source that is
 * not UTF-8, or that PCRE2 refuses, is an error whose message says why
 * (with the offset PCRE2 gives).  A pattern that makes sense only for
 * UTF-8 (like \x{100}) never matches a line that is not. */
Pattern *pattern_new (const char *source, GError **error);
void pattern_free (Pattern *pattern);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pattern, pattern_free)

/* The source as given. */
const char *pattern_source (const Pattern *pattern);

/* The names of the pattern's named groups, NULL-terminated (owned by the
 * pattern). */
const char *const *pattern_group_names (const Pattern *pattern);

/* Matches one line (len bytes, no newline; any bytes, NUL included).  On
 * MATCH_FOUND, when captures is not NULL, each named group that took part
 * in the match is inserted into it as name → value (newly allocated
 * strings; the table must free both). */
MatchResult pattern_match (const Pattern *pattern, const char *line, gsize len,
                           GHashTable *captures);
/* The same, saying whether the match took long: one that does not takes at
 * most a few microseconds, plus up to about 3 ns a byte of its line; one
 * that does may take up to the cost limit, a few milliseconds. */
MatchResult pattern_match_timed (const Pattern *pattern, const char *line, gsize len,
                                 GHashTable *captures, gboolean *took_long);
