/* harness-child: the child the pipe-harness tests start, one mode per
 * behaviour they need.
 *
 *   harness-child flood N LEN      N numbered lines of LEN bytes, then exit
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
 *
 * Output is written with write(2), so nothing waits in a stdio buffer.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void
write_all (const char *data, size_t len)
{
  while (len > 0)
    {
      ssize_t n = write (1, data, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        exit (1);
      data += n;
      len -= (size_t) n;
    }
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
flood (long n, long len)
{
  /* Each line: "NNNNNNNNN " then filler up to len-1 bytes, then '\n'. */
  size_t bufsize = 1 << 16;
  char *buf = malloc (bufsize + (size_t) len + 1);
  size_t used = 0;
  if (len < 12)
    len = 12;
  for (long i = 0; i < n; i++)
    {
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

static void
on_term (int sig)
{
  (void) sig;
  static const char msg[] = "terminated\n";
  if (write (1, msg, sizeof msg - 1) < 0)
    _exit (2);
  _exit (0);
}

int
main (int argc, char **argv)
{
  const char *mode = argc > 1 ? argv[1] : "";

  if (strcmp (mode, "flood") == 0 && argc == 4)
    flood (atol (argv[2]), atol (argv[3]));
  else if (strcmp (mode, "echo") == 0)
    {
      char line[65536];
      FILE *in = stdin;
      while (fgets (line, sizeof line, in) != NULL)
        {
          say ("got: ");
          say (line);
        }
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
