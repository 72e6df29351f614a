/* json: one line of a child's output (or an input or event record) as one
 * JSON object on one line:
 *
 *   {"time":"2026-11-25T10:00:00.123Z","name":"A","stream":"stdout","line":"hi"}
 *
 * "line" is the text without its newline.  Bytes that are not UTF-8 come out
 * as U+FFFD in "line", and the exact bytes as base64 in "line_base64", so
 * nothing is lost.  "partial":true marks a line that had no newline (an
 * unfinished line shown after its delay, or a piece of a long line).
 */
#pragma once

#include <glib.h>

/* The most bytes json_format_line() can write for a line of len bytes. */
gsize json_line_bound (gsize len);

/* Writes the object and its newline at dst (at least json_line_bound (len)
 * bytes), returns how many bytes it wrote. */
gsize json_format_line (char *dst, const char *time, const char *name,
                        const char *stream, const char *line, gsize len,
                        gboolean partial);

/* RFC 3339 UTC time with milliseconds, for real time us (27 bytes with NUL). */
void json_format_time (char out[32], gint64 real_time_us);
