/* chaos-gen: what the chaos test's children and FIFO writers write,
 * generated from a seed.  tests/harness-child writes it (modes chaos and
 * fifo-lines), and tests/test-chaos generates it again to check what came
 * out of the harness.  Plain C without GLib, so that both can include it;
 * what it makes depends on the seed alone.
 *
 * A child's stream is lines of random kinds: empty, short text, bytes that
 * are NUL, CR or not UTF-8, valid multibyte UTF-8, and long lines up to
 * about 110 KB (some exactly around the harness's 64 KiB piece size); its
 * length ranges from nothing to a few megabytes, and it sometimes ends
 * without a newline.  No line starts with '~': that marks the lines an
 * echoing child adds ("~echo TEXT").
 *
 * A child writes its two streams in chunks of random sizes (1 byte to
 * 300 KB), one write() each, with random pauses after them (mostly none,
 * some up to 40 ms, a few of 90 to 200 ms, at most 1.2 s in all): a
 * schedule the test can follow too.
 *
 * A FIFO line is "L<writer>.<k> " and up to 200 random bytes, no newline:
 * short enough (under PIPE_BUF) that one write() puts it whole in a FIFO
 * shared with other writers.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What an echoing child prints before each line it got on stdin. */
#define CHAOS_ECHO_MARK "~echo "
/* The line that tells an echoing child no more input will come. */
#define CHAOS_END_LINE "~end"

enum { CHAOS_STDOUT = 0, CHAOS_STDERR = 1 };

typedef struct {
  uint64_t state;
} ChaosRng;

static inline uint64_t
chaos_mix (uint64_t x)
{
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* An independent sequence for each seed and purpose (splitmix64). */
static inline void
chaos_rng_init (ChaosRng *r, uint64_t seed, uint64_t purpose)
{
  r->state = chaos_mix (seed ^ chaos_mix (purpose + 0x9e3779b97f4a7c15ULL));
}

static inline uint64_t
chaos_rng_next (ChaosRng *r)
{
  r->state += 0x9e3779b97f4a7c15ULL;
  return chaos_mix (r->state);
}

/* lo to hi, both included. */
static inline size_t
chaos_rng_range (ChaosRng *r, size_t lo, size_t hi)
{
  return lo + (size_t) (chaos_rng_next (r) % ((uint64_t) (hi - lo) + 1));
}

typedef struct {
  char *data;
  size_t len, cap;
} ChaosBuf;

static inline char *
chaos_buf_grow (ChaosBuf *b, size_t more)
{
  if (b->len + more > b->cap)
    {
      size_t cap = b->cap * 2 > b->len + more ? b->cap * 2 : b->len + more + 4096;
      char *data = realloc (b->data, cap);
      if (data == NULL)
        abort ();
      b->data = data;
      b->cap = cap;
    }
  b->len += more;
  return b->data + b->len - more;
}

static inline void
chaos_buf_add (ChaosBuf *b, const void *bytes, size_t len)
{
  if (len > 0)
    memcpy (chaos_buf_grow (b, len), bytes, len);
}

static inline void
chaos_buf_free (ChaosBuf *b)
{
  free (b->data);
  *b = (ChaosBuf) { 0 };
}

/* Bytes that make a line hard to carry: NUL, CR, escape, DEL, a lone
 * continuation byte, bytes never valid in UTF-8, a truncated sequence, an
 * encoded surrogate, JSON's special characters. */
static const unsigned char chaos_hard_bytes[] = {
  0x00, '\r', '\t', 0x1b, 0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed, 0xfe,
  0xff, '"', '\\', 0x01,
};

/* Valid UTF-8 that JSON must pass unchanged: accents, the euro sign, an
 * emoji, U+FFFD itself, the line separator U+2028. */
static const char *const chaos_utf8[] = {
  "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbd",
  "\xe2\x80\xa8", "a", " ", "\"", "\\", "/",
};

/* One line's bytes, without its newline, appended to b. */
static inline void
chaos_line (ChaosRng *r, ChaosBuf *b)
{
  size_t start = b->len, n;
  size_t kind = chaos_rng_range (r, 0, 99);

  if (kind < 12)
    return; /* empty */
  if (kind < 45)
    {
      n = chaos_rng_range (r, 1, 80);
      char *p = chaos_buf_grow (b, n);
      for (size_t i = 0; i < n; i++)
        p[i] = (char) chaos_rng_range (r, 0x20, 0x7e);
    }
  else if (kind < 60)
    {
      n = chaos_rng_range (r, 1, 120);
      char *p = chaos_buf_grow (b, n);
      for (size_t i = 0; i < n; i++)
        p[i] = chaos_rng_range (r, 0, 2) == 0
          ? (char) chaos_hard_bytes[chaos_rng_range (r, 0, sizeof chaos_hard_bytes - 1)]
          : (char) chaos_rng_range (r, 0x20, 0x7e);
    }
  else if (kind < 72)
    {
      n = chaos_rng_range (r, 1, 60);
      for (size_t i = 0; i < n; i++)
        {
          const char *c = chaos_utf8[chaos_rng_range (r, 0, sizeof chaos_utf8 / sizeof chaos_utf8[0] - 1)];
          chaos_buf_add (b, c, strlen (c));
        }
    }
  else
    {
      static const size_t edges[] = { 65535, 65536, 65537, 131071, 131072 };
      if (kind < 90)
        n = chaos_rng_range (r, 100, 4000);
      else if (kind < 93)
        n = edges[chaos_rng_range (r, 0, sizeof edges / sizeof edges[0] - 1)];
      else if (kind < 97)
        n = chaos_rng_range (r, 4001, 70000);
      else
        n = chaos_rng_range (r, 70001, 110000);
      /* Any bytes, or text only (valid UTF-8, long in JSON's "line"). */
      int text = chaos_rng_range (r, 0, 1) == 0;
      char *p = chaos_buf_grow (b, n);
      for (size_t i = 0; i < n; i += 8)
        {
          uint64_t v = chaos_rng_next (r);
          for (size_t j = i; j < n && j < i + 8; j++, v >>= 8)
            p[j] = text ? (char) (0x20 + (v & 0xff) % 95) : (char) (v & 0xff);
        }
    }
  for (size_t i = start; i < b->len; i++)
    if (b->data[i] == '\n')
      b->data[i] = 'n';
  if (b->len > start && b->data[start] == '~')
    b->data[start] = '^';
}

/* Everything one stream of a chaos child writes, appended to out. */
static inline void
chaos_stream (uint64_t seed, int which, int may_end_partial, ChaosBuf *out)
{
  ChaosRng r;
  size_t budget;

  chaos_rng_init (&r, seed, 1 + (uint64_t) which);
  size_t size = chaos_rng_range (&r, 0, 99);
  if (size < 8)
    budget = 0;
  else if (size < 40)
    budget = chaos_rng_range (&r, 1, 2048);
  else if (size < 72)
    budget = chaos_rng_range (&r, 2049, 64 * 1024);
  else if (size < 93)
    budget = chaos_rng_range (&r, 64 * 1024 + 1, 512 * 1024);
  else
    budget = chaos_rng_range (&r, 512 * 1024 + 1, 2560 * 1024);
  size_t end = out->len + budget;
  while (out->len < end)
    {
      chaos_line (&r, out);
      chaos_buf_add (out, "\n", 1);
    }
  if (may_end_partial && chaos_rng_range (&r, 0, 2) == 0)
    {
      size_t before = out->len;
      chaos_line (&r, out);
      if (out->len == before)
        chaos_buf_add (out, "z", 1);
    }
}

/* Line k of a FIFO writer, without its newline, appended to out. */
static inline void
chaos_fifo_line (uint64_t seed, unsigned writer, unsigned k, ChaosBuf *out)
{
  ChaosRng r;
  char head[48];

  chaos_rng_init (&r, seed, 100 + (uint64_t) k);
  snprintf (head, sizeof head, "L%u.%u ", writer, k);
  chaos_buf_add (out, head, strlen (head));
  size_t n = chaos_rng_range (&r, 0, 200);
  char *p = chaos_buf_grow (out, n);
  for (size_t i = 0; i < n; i++)
    {
      p[i] = chaos_rng_range (&r, 0, 5) == 0
        ? (char) chaos_hard_bytes[chaos_rng_range (&r, 0, sizeof chaos_hard_bytes - 1)]
        : (char) chaos_rng_range (&r, 0x20, 0x7e);
      if (p[i] == '\n')
        p[i] = 'n';
    }
}

/* The order and sizes in which a child writes its two streams. */
typedef struct {
  ChaosRng r;
  size_t len[2];
  size_t done[2];
  long pause_budget_us;
} ChaosSchedule;

static inline void
chaos_schedule_init (ChaosSchedule *s, uint64_t seed, size_t out_len, size_t err_len)
{
  chaos_rng_init (&s->r, seed, 3);
  s->len[CHAOS_STDOUT] = out_len;
  s->len[CHAOS_STDERR] = err_len;
  s->done[CHAOS_STDOUT] = s->done[CHAOS_STDERR] = 0;
  s->pause_budget_us = 1200 * 1000;
}

/* The next chunk: its stream, where it starts and how long it is, and how
 * long the child pauses after writing it.  0 when everything is written. */
static inline int
chaos_schedule_next (ChaosSchedule *s, int *which, size_t *start, size_t *len,
                     long *pause_us)
{
  size_t *done = s->done, *total = s->len;
  if (done[0] == total[0] && done[1] == total[1])
    return 0;
  int w = done[0] == total[0] ? 1 : done[1] == total[1] ? 0 : (int) chaos_rng_range (&s->r, 0, 1);
  size_t size = chaos_rng_range (&s->r, 0, 99), n;
  if (size < 30)
    n = chaos_rng_range (&s->r, 1, 16);
  else if (size < 70)
    n = chaos_rng_range (&s->r, 17, 4096);
  else if (size < 90)
    n = chaos_rng_range (&s->r, 4097, 65536);
  else
    n = chaos_rng_range (&s->r, 65537, 300000);
  if (n > total[w] - done[w])
    n = total[w] - done[w];

  size_t kind = chaos_rng_range (&s->r, 0, 99);
  long us = kind < 55 ? 0
          : kind < 80 ? (long) chaos_rng_range (&s->r, 1, 2000)
          : kind < 96 ? (long) chaos_rng_range (&s->r, 2000, 40000)
          : (long) chaos_rng_range (&s->r, 90000, 200000);
  if (us > s->pause_budget_us)
    us = 0;
  s->pause_budget_us -= us;

  *which = w;
  *start = done[w];
  *len = n;
  *pause_us = us;
  done[w] += n;
  return 1;
}
