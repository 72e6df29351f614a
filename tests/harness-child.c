/* harness-child: the child the pipe-harness tests start, one mode per
 * behaviour they need.
 *
 *   harness-child flood N LEN [ODD]
 *                                  N numbered lines of LEN bytes (the odd
 *                                  ones ODD bytes, if given), then exit
 *   harness-child flood-then-wait N LEN
 *                                  the same, then wait for EOF on stdin
 *   harness-child echo             "got: LINE" for every stdin line, until EOF
 *   harness-child lengths          "LEN C" for every stdin line: its length
 *                                  and first byte ('-' if empty), until EOF
 *   harness-child partial TEXT     TEXT without a newline, then wait for EOF
 *   harness-child split A B MS     A, then B MS milliseconds later (one line)
 *   harness-child bytes            a line of NUL, invalid UTF-8 and CR bytes
 *   harness-child long N           one line of N bytes ('x'), then a newline
 *   harness-child idle             print "pid N", then wait for stdin EOF
 *   harness-child no-read          print "pid N", never read stdin, sleep
 *   harness-child close-stdin      close stdin, print "closed", sleep
 *   harness-child ignore-term      ignore SIGTERM, print "pid N", sleep
 *   harness-child grandchild       fork a sleeping grandchild that keeps
 *                                  stdout open, print its pid, exit 0
 *   harness-child exit N           print "bye", exit with status N
 *   harness-child kill-self SIG    kill itself with signal SIG
 *   harness-child term-message     on SIGTERM print "terminated" and exit 0
 *   harness-child flood-until-term LEN
 *                                  numbered lines of LEN bytes until SIGTERM,
 *                                  then "wrote N bytes" on stderr, exit 0
 *   harness-child exit-at NS N     print "bye", exit N at CLOCK_MONOTONIC NS
 *   harness-child tty-late MODE    (on a terminal) after 200 ms set the
 *                                  terminal raw or canon, print "ready",
 *                                  read until end-of-file (raw: a ^D, as
 *                                  readline takes it), print "eof"
 *   harness-child exit-after MS N  print "pid N", exit N after MS milliseconds
 *   harness-child signal-after MS SIG
 *                                  print "pid N", die of signal SIG after MS
 *                                  milliseconds
 *   harness-child exit-on-eof N    print "pid N", exit N at end-of-file on
 *                                  stdin
 *   harness-child prompt [US]      print "> " (no newline), read a line,
 *                                  answer "answer LINE" at once, and again
 *                                  (the next prompt US microseconds later)
 *   harness-child ready-after MS PATH
 *                                  after MS milliseconds make the file PATH,
 *                                  then print "ready pid=N"
 *   harness-child check-file PATH  "found PATH" if PATH exists, else
 *                                  "missing PATH" and exit 1
 *   harness-child args ARG…        each ARG as a line (may be empty), then
 *                                  wait for EOF
 *   harness-child repeat N TEXT    TEXT as a line N times (0: for ever), then
 *                                  wait for EOF
 *   harness-child fds              print "fds" and each descriptor it was
 *                                  started with, then wait for EOF
 *   harness-child signals          print "pid N", then "got SIG" for each
 *                                  SIGHUP, SIGINT, SIGUSR1, SIGUSR2
 *   harness-child chaos SEED echo|quiet exit N|signal N
 *                                  write the stdout and stderr streams of
 *                                  chaos-gen.h for SEED, in random chunks
 *                                  with random pauses; with echo, print
 *                                  "~echo LINE" for each stdin line, at line
 *                                  starts of stdout, until the line "~end";
 *                                  then exit N, or kill itself with signal N
 *   harness-child fifo-lines PATH WRITER SEED COUNT MAX_MS
 *                                  write lines 0 to COUNT-1 of chaos-gen.h's
 *                                  FIFO writer WRITER (seeded SEED) to the
 *                                  FIFO PATH, one write each, pausing up to
 *                                  MAX_MS between them; exit 3 if the FIFO has
 *                                  no reader, 4 if a write fails
 *
 * Output is written with write(2), so nothing waits in a stdio buffer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "chaos-gen.h"

static void
write_fd (int fd, const char *data, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (fd, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        exit (1);
      data += n;
      len -= (size_t) n;
    }
}

static void
write_all (const char *data, size_t len)
{
  write_fd (1, data, len);
}

static void
say (const char *text)
{
  write_all (text, strlen (text));
}

static void
say_pid (void)
{
  char line[64];
  snprintf (line, sizeof line, "pid %ld\n", (long) getpid ());
  say (line);
}

/* Waits for end-of-file on stdin, reading and dropping what comes. */
static void
wait_for_eof (void)
{
  char buf[4096];
  while (read (0, buf, sizeof buf) > 0)
    ;
}

static void
sleep_forever (void)
{
  for (;;)
    pause ();
}

static void
flood_mixed (long n, long even_len, long odd_len)
{
  /* Each line: "NNNNNNNNN " then filler up to len-1 bytes, then '\n'. */
  size_t bufsize = 1 << 16;
  even_len = even_len < 12 ? 12 : even_len;
  odd_len = odd_len < 12 ? 12 : odd_len;
  char *buf = malloc (bufsize + (size_t) (even_len > odd_len ? even_len : odd_len) + 1);
  size_t used = 0;
  for (long i = 0; i < n; i++)
    {
      long len = i % 2 == 0 ? even_len : odd_len;
      int k = snprintf (buf + used, 12, "%09ld ", i);
      memset (buf + used + k, 'a' + (char) (i % 26), (size_t) (len - 1 - k));
      buf[used + (size_t) len - 1] = '\n';
      used += (size_t) len;
      if (used >= bufsize)
        {
          write_all (buf, used);
          used = 0;
        }
    }
  write_all (buf, used);
  free (buf);
}

static void
flood (long n, long len)
{
  flood_mixed (n, len, len);
}

/* flood-until-term: what has been written, exactly: SIGTERM is blocked
 * while a write and this count change together. */
static long long flood_written;

static void
on_term_report (int sig)
{
  char text[64], digits[24];
  int n = 0, k = 0;
  long long v = flood_written;
  (void) sig;
  do
    digits[k++] = (char) ('0' + v % 10);
  while ((v /= 10) > 0);
  for (const char *p = "wrote "; *p; p++)
    text[n++] = *p;
  while (k > 0)
    text[n++] = digits[--k];
  for (const char *p = " bytes\n"; *p; p++)
    text[n++] = *p;
  if (write (2, text, (size_t) n) < 0)
    _exit (2);
  _exit (0);
}

static void
flood_until_term (long len)
{
  char *buf = malloc (65536 + (size_t) len);
  sigset_t term;
  sigemptyset (&term);
  sigaddset (&term, SIGTERM);
  signal (SIGTERM, on_term_report);
  for (long i = 0;;)
    {
      size_t used = 0;
      while (used < 65536)
        {
          int k = snprintf (buf + used, 12, "%09ld ", i);
          memset (buf + used + k, 'a' + (char) (i % 26), (size_t) (len - 1 - k));
          buf[used + (size_t) len - 1] = '\n';
          used += (size_t) len;
          i++;
        }
      for (size_t done = 0; done < used;)
        {
          sigprocmask (SIG_BLOCK, &term, NULL);
          ssize_t n = write (1, buf + done, used - done);
          if (n > 0)
            {
              flood_written += n;
              done += (size_t) n;
            }
          sigprocmask (SIG_UNBLOCK, &term, NULL);
          if (n < 0 && errno != EINTR)
            exit (1);
        }
    }
}

/* A program that sets its terminal up late, as a readline program does. */
static int
tty_late (const char *mode)
{
  struct termios tio;
  char c;
  usleep (200 * 1000);
  if (tcgetattr (0, &tio) != 0)
    return 2;
  if (strcmp (mode, "raw") == 0)
    {
      tio.c_lflag &= ~(tcflag_t) ICANON;
      tio.c_cc[VMIN] = 1;
      tio.c_cc[VTIME] = 0;
    }
  else
    tio.c_lflag |= ICANON;
  if (tcsetattr (0, TCSADRAIN, &tio) != 0)
    return 2;
  say ("ready\n");
  while (read (0, &c, 1) == 1 && !(strcmp (mode, "raw") == 0 && c == tio.c_cc[VEOF]))
    ;
  say ("eof\n");
  return 0;
}

static void
on_term (int sig)
{
  (void) sig;
  static const char msg[] = "terminated\n";
  if (write (1, msg, sizeof msg - 1) < 0)
    _exit (2);
  _exit (0);
}

static void
sleep_us (long us)
{
  struct timespec t = { us / 1000000, (us % 1000000) * 1000 };
  while (nanosleep (&t, &t) != 0 && errno == EINTR)
    ;
}

static void
sleep_ms (long ms)
{
  sleep_us (ms * 1000);
}

/* "answer LINE" for every line, each after a prompt "> ", the answer and the
 * next prompt in two writes, so that the prompt may come before or after
 * the next input is sent (after, mostly, when it waits delay_us). */
static void
prompt (long delay_us)
{
  char line[4096], answer[4200];
  for (int first = 1;; first = 0)
    {
      if (!first && delay_us > 0)
        sleep_us (delay_us);
      say ("> ");
      if (fgets (line, sizeof line, stdin) == NULL)
        return;
      line[strcspn (line, "\n")] = '\0';
      snprintf (answer, sizeof answer, "answer %s\n", line);
      say (answer);
    }
}

/* "fds 0 1 2": the descriptors open, but the one listing them. */
static void
open_fds (void)
{
  char line[4096] = "fds";
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *e;
  if (dir == NULL)
    exit (1);
  while ((e = readdir (dir)) != NULL)
    if (e->d_name[0] != '.' && atoi (e->d_name) != dirfd (dir) &&
        strlen (line) + strlen (e->d_name) + 2 < sizeof line)
      {
        strcat (line, " ");
        strcat (line, e->d_name);
      }
  closedir (dir);
  strcat (line, "\n");
  say (line);
}

static void
signals (void)
{
  static const int wanted[] = { SIGHUP, SIGINT, SIGUSR1, SIGUSR2 };
  sigset_t set;
  sigemptyset (&set);
  for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
    sigaddset (&set, wanted[i]);
  sigprocmask (SIG_BLOCK, &set, NULL);
  say_pid ();
  for (;;)
    {
      int sig = sigwaitinfo (&set, NULL);
      char line[32];
      if (sig < 0)
        continue;
      snprintf (line, sizeof line, "got %d\n", sig);
      say (line);
    }
}

/* chaos: what came on stdin and is not echoed yet. */
typedef struct {
  int echo;
  ChaosBuf in;
  int stdin_open;
  int got_end;
} ChaosInput;

static int64_t
now_us (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (int64_t) t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* Waits up to timeout_ms (-1: until something comes) for stdin, and reads
 * what is there. */
static void
chaos_read_input (ChaosInput *in, int timeout_ms)
{
  struct pollfd pfd = { .fd = 0, .events = POLLIN };
  char buf[65536];

  if (!in->stdin_open || in->got_end)
    {
      if (timeout_ms > 0)
        usleep ((useconds_t) timeout_ms * 1000);
      return;
    }
  if (poll (&pfd, 1, timeout_ms) <= 0)
    return;
  ssize_t n = read (0, buf, sizeof buf);
  if (n > 0)
    chaos_buf_add (&in->in, buf, (size_t) n);
  else if (n == 0 || errno != EINTR)
    in->stdin_open = 0;
}

/* Each whole line that came is printed as "~echo LINE" with one write, so
 * that it is never cut; "~end" ends the input. */
static void
chaos_echo (ChaosInput *in)
{
  char *p = in->in.data, *end = in->in.data + in->in.len;
  const size_t end_len = strlen (CHAOS_END_LINE);

  while (!in->got_end && p < end)
    {
      char *nl = memchr (p, '\n', (size_t) (end - p));
      if (nl == NULL)
        break;
      if ((size_t) (nl - p) == end_len && memcmp (p, CHAOS_END_LINE, end_len) == 0)
        in->got_end = 1;
      else
        {
          ChaosBuf line = { 0 };
          chaos_buf_add (&line, CHAOS_ECHO_MARK, strlen (CHAOS_ECHO_MARK));
          chaos_buf_add (&line, p, (size_t) (nl + 1 - p));
          write_fd (1, line.data, line.len);
          chaos_buf_free (&line);
        }
      p = nl + 1;
    }
  size_t left = in->got_end ? 0 : (size_t) (end - p);
  if (left > 0)
    memmove (in->in.data, p, left);
  in->in.len = left;
}

/* Pauses for us microseconds; an echoing child reads its input meanwhile
 * and, at the start of a stdout line, echoes it. */
static void
chaos_pause (ChaosInput *in, long us, int at_line_start)
{
  if (!in->echo)
    {
      if (us > 0)
        usleep ((useconds_t) us);
      return;
    }
  int64_t deadline = now_us () + us;
  do
    {
      int64_t left = deadline - now_us ();
      chaos_read_input (in, left > 0 ? (int) ((left + 999) / 1000) : 0);
      if (at_line_start)
        chaos_echo (in);
    }
  while (now_us () < deadline);
}

static void
chaos_end (int status, int signum)
{
  if (signum != 0)
    {
      /* As a crash would: no core file, whatever the disposition was. */
      struct rlimit no_core = { 0, 0 };
      sigset_t set;
      setrlimit (RLIMIT_CORE, &no_core);
      signal (signum, SIG_DFL);
      sigemptyset (&set);
      sigaddset (&set, signum);
      sigprocmask (SIG_UNBLOCK, &set, NULL);
      kill (getpid (), signum);
      _exit (99); /* not reached */
    }
  exit (status);
}

static void
chaos (uint64_t seed, int echo, int status, int signum)
{
  ChaosBuf streams[2] = { { 0 }, { 0 } };
  ChaosInput in = { .echo = echo, .stdin_open = 1 };
  ChaosSchedule schedule;
  int which;
  size_t start, n;
  long us;

  /* An echoing child's echo lines go at line starts: its stdout ends with
   * a newline, so that the last ones can follow. */
  chaos_stream (seed, CHAOS_STDOUT, !echo, &streams[CHAOS_STDOUT]);
  chaos_stream (seed, CHAOS_STDERR, 1, &streams[CHAOS_STDERR]);
  chaos_schedule_init (&schedule, seed, streams[0].len, streams[1].len);
  while (chaos_schedule_next (&schedule, &which, &start, &n, &us))
    {
      write_fd (which == CHAOS_STDOUT ? 1 : 2, streams[which].data + start, n);
      size_t out_done = schedule.done[CHAOS_STDOUT];
      chaos_pause (&in, us, out_done == 0 || streams[0].data[out_done - 1] == '\n');
    }
  while (echo && !in.got_end && in.stdin_open)
    {
      chaos_echo (&in);
      if (!in.got_end)
        chaos_read_input (&in, -1);
    }
  chaos_echo (&in);
  chaos_buf_free (&streams[0]);
  chaos_buf_free (&streams[1]);
  chaos_buf_free (&in.in);
  chaos_end (status, signum);
}

static int
fifo_lines (const char *path, unsigned writer, uint64_t seed, unsigned count,
            unsigned max_ms)
{
  int fd = open (path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  ChaosRng r;

  if (fd < 0)
    return 3;
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
  chaos_rng_init (&r, seed, 4);
  for (unsigned k = 0; k < count; k++)
    {
      ChaosBuf line = { 0 };
      chaos_fifo_line (seed, writer, k, &line);
      chaos_buf_add (&line, "\n", 1);
      ssize_t n = write (fd, line.data, line.len);
      int whole = n == (ssize_t) line.len;
      chaos_buf_free (&line);
      if (!whole)
        return 4;
      usleep ((useconds_t) chaos_rng_range (&r, 0, max_ms) * 1000);
    }
  close (fd);
  return 0;
}

int
main (int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "";
  /* SIGSEGV kills a child, sanitized or not, and leaves no core file. */
  const struct rlimit no_core = { 0, 0 };
  setrlimit (RLIMIT_CORE, &no_core);
  signal (SIGSEGV, SIG_DFL);

  if (strcmp (mode, "flood") == 0 && argc == 4)
    flood (atol (argv[2]), atol (argv[3]));
  else if (strcmp (mode, "flood") == 0 && argc == 5)
    flood_mixed (atol (argv[2]), atol (argv[3]), atol (argv[4]));
  else if (strcmp (mode, "flood-then-wait") == 0 && argc == 4)
    {
      flood (atol (argv[2]), atol (argv[3]));
      wait_for_eof ();
    }
  else if (strcmp (mode, "echo") == 0)
    {
      /* One write a line: input sent to a child ends its unfinished
       * line, so "got: " alone could be shown as a line of its own. */
      char line[65536 + 5] = "got: ";
      FILE *in = stdin;
      while (fgets (line + 5, sizeof line - 5, in) != NULL)
        say (line);
    }
  else if (strcmp (mode, "lengths") == 0)
    {
      char *line = NULL;
      size_t size = 0;
      ssize_t len;
      while ((len = getline (&line, &size, stdin)) > 0)
        {
          char said[64];
          if (line[len - 1] == '\n')
            len--;
          snprintf (said, sizeof said, "%zd %c\n", len, len > 0 ? line[0] : '-');
          say (said);
        }
      free (line);
    }
  else if (strcmp (mode, "partial") == 0 && argc == 3)
    {
      say (argv[2]);
      wait_for_eof ();
    }
  else if (strcmp (mode, "split") == 0 && argc == 5)
    {
      say (argv[2]);
      usleep ((useconds_t) atol (argv[4]) * 1000);
      say (argv[3]);
      say ("\n");
      wait_for_eof ();
    }
  else if (strcmp (mode, "bytes") == 0)
    {
      static const char line[] = "nul\0here \xff\xfe bad\r cr\n";
      write_all (line, sizeof line - 1);
    }
  else if (strcmp (mode, "long") == 0 && argc == 3)
    {
      long n = atol (argv[2]);
      char chunk[8192];
      memset (chunk, 'x', sizeof chunk);
      for (long left = n; left > 0; left -= (long) sizeof chunk)
        write_all (chunk, left < (long) sizeof chunk ? (size_t) left : sizeof chunk);
      say ("\n");
    }
  else if (strcmp (mode, "idle") == 0)
    {
      say_pid ();
      wait_for_eof ();
    }
  else if (strcmp (mode, "no-read") == 0)
    {
      say_pid ();
      sleep_forever ();
    }
  else if (strcmp (mode, "close-stdin") == 0)
    {
      close (0);
      say ("closed\n");
      sleep_forever ();
    }
  else if (strcmp (mode, "ignore-term") == 0)
    {
      signal (SIGTERM, SIG_IGN);
      say_pid ();
      sleep_forever ();
    }
  else if (strcmp (mode, "grandchild") == 0)
    {
      pid_t pid = fork ();
      if (pid == 0)
        {
          sleep_forever ();
        }
      char line[64];
      snprintf (line, sizeof line, "grandchild %ld\n", (long) pid);
      say (line);
    }
  else if (strcmp (mode, "exit") == 0 && argc == 3)
    {
      say ("bye\n");
      return atoi (argv[2]);
    }
  else if (strcmp (mode, "kill-self") == 0 && argc == 3)
    {
      kill (getpid (), atoi (argv[2]));
      sleep_forever ();
    }
  else if (strcmp (mode, "flood-until-term") == 0 && argc == 3)
    flood_until_term (atol (argv[2]));
  else if (strcmp (mode, "exit-at") == 0 && argc == 4)
    {
      long long ns = atoll (argv[2]);
      struct timespec when = { (time_t) (ns / 1000000000), (long) (ns % 1000000000) };
      while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &when, NULL) == EINTR)
        ;
      say ("bye\n");
      return atoi (argv[3]);
    }
  else if (strcmp (mode, "tty-late") == 0 && argc == 3)
    return tty_late (argv[2]);
  else if (strcmp (mode, "exit-after") == 0 && argc == 4)
    {
      say_pid ();
      sleep_ms (atol (argv[2]));
      return atoi (argv[3]);
    }
  else if (strcmp (mode, "signal-after") == 0 && argc == 4)
    {
      say_pid ();
      sleep_ms (atol (argv[2]));
      signal (atoi (argv[3]), SIG_DFL);
      raise (atoi (argv[3]));
      sleep_forever ();
    }
  else if (strcmp (mode, "exit-on-eof") == 0 && argc == 3)
    {
      say_pid ();
      wait_for_eof ();
      return atoi (argv[2]);
    }
  else if (strcmp (mode, "prompt") == 0 && argc <= 3)
    prompt (argc == 3 ? atol (argv[2]) : 0);
  else if (strcmp (mode, "ready-after") == 0 && argc == 4)
    {
      char line[64];
      sleep_ms (atol (argv[2]));
      FILE *made = fopen (argv[3], "w");
      if (made == NULL || fclose (made) != 0)
        return 1;
      snprintf (line, sizeof line, "ready pid=%ld\n", (long) getpid ());
      say (line);
      wait_for_eof ();
    }
  else if (strcmp (mode, "check-file") == 0 && argc == 3)
    {
      int found = access (argv[2], F_OK) == 0;
      say (found ? "found " : "missing ");
      say (argv[2]);
      say ("\n");
      if (!found)
        return 1;
      wait_for_eof ();
    }
  else if (strcmp (mode, "args") == 0)
    {
      for (int i = 2; i < argc; i++)
        {
          say (argv[i]);
          say ("\n");
        }
      wait_for_eof ();
    }
  else if (strcmp (mode, "repeat") == 0 && argc == 4)
    {
      long n = atol (argv[2]);
      size_t len = strlen (argv[3]);
      char *line = malloc (len + 1);
      memcpy (line, argv[3], len);
      line[len] = '\n';
      for (long i = 0; n == 0 || i < n; i++)
        write_all (line, len + 1);
      free (line);
      wait_for_eof ();
    }
  else if (strcmp (mode, "fds") == 0)
    {
      open_fds ();
      wait_for_eof ();
    }
  else if (strcmp (mode, "signals") == 0)
    signals ();
  else if (strcmp (mode, "chaos") == 0 && argc == 6 &&
           (strcmp (argv[3], "echo") == 0 || strcmp (argv[3], "quiet") == 0) &&
           (strcmp (argv[4], "exit") == 0 || strcmp (argv[4], "signal") == 0))
    {
      int n = atoi (argv[5]);
      int is_signal = strcmp (argv[4], "signal") == 0;
      chaos (strtoull (argv[2], NULL, 10), strcmp (argv[3], "echo") == 0,
             is_signal ? 0 : n, is_signal ? n : 0);
    }
  else if (strcmp (mode, "fifo-lines") == 0 && argc == 7)
    return fifo_lines (argv[2], (unsigned) atoi (argv[3]), strtoull (argv[4], NULL, 10),
                       (unsigned) atoi (argv[5]), (unsigned) atoi (argv[6]));
  else if (strcmp (mode, "term-message") == 0)
    {
      signal (SIGTERM, on_term);
      say_pid ();
      sleep_forever ();
    }
  else
    {
      fprintf (stderr, "harness-child: unknown mode or arguments\n");
      return 2;
    }
  return 0;
}
