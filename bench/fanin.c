/* fanin: the least a relay with a pipe of its own for each child can do,
 * as a control for the benchmark's scale figure.  It starts each COMMAND
 * (through /bin/sh -c) with its stdout on a pipe of its own, sized as
 * pipe-harness sizes its children's (a 16 MiB budget shared, from 64 KiB to
 * 1 MiB each), and copies whatever arrives on any of them to its stdout
 * (a pipe enlarged to 1 MiB, as pipe-harness's is), all that one wait
 * found in one write: no lines, no marks, one process, epoll, blocking
 * writes.
 *
 *   fanin COMMAND...
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "write-all.h"

#define PIPE_BUDGET (16 * 1024 * 1024)
#define PIPE_MIN (64 * 1024)
#define PIPE_MAX (1024 * 1024)
#define READ_SIZE (256 * 1024)
#define BATCH_SIZE (1024 * 1024)

extern char **environ;

/* Starts command with its stdout on a new pipe; returns our end, or -1. */
static int
start (const char *command, int pipe_size)
{
  int fds[2];
  pid_t pid;
  posix_spawn_file_actions_t actions;
  char *argv[] = { "/bin/sh", "-c", (char *) command, NULL };

  if (pipe2 (fds, O_CLOEXEC) != 0)
    return -1;
  fcntl (fds[0], F_SETPIPE_SZ, pipe_size); /* a hint: fine if refused */
  posix_spawn_file_actions_init (&actions);
  posix_spawn_file_actions_adddup2 (&actions, fds[1], 1);
  int failed = posix_spawn (&pid, argv[0], &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy (&actions);
  close (fds[1]);
  if (failed != 0)
    {
      close (fds[0]);
      errno = failed;
      return -1;
    }
  return fds[0];
}

int
main (int argc, char **argv)
{
  static char buf[BATCH_SIZE];
  struct epoll_event events[64];
  int count = argc - 1, open_pipes = 0;
  size_t used = 0;

  if (count < 1)
    {
      fprintf (stderr, "usage: fanin COMMAND...\n");
      return 2;
    }
  fcntl (1, F_SETPIPE_SZ, PIPE_MAX); /* a hint: fine if refused */
  int pipe_size = PIPE_BUDGET / count;
  pipe_size = pipe_size < PIPE_MIN ? PIPE_MIN : pipe_size > PIPE_MAX ? PIPE_MAX : pipe_size;
  int epoll = epoll_create1 (EPOLL_CLOEXEC);
  if (epoll < 0)
    {
      perror ("fanin: epoll");
      return 1;
    }
  for (int i = 1; i <= count; i++)
    {
      struct epoll_event event = { .events = EPOLLIN };
      event.data.fd = start (argv[i], pipe_size);
      if (event.data.fd < 0 || epoll_ctl (epoll, EPOLL_CTL_ADD, event.data.fd, &event) != 0)
        {
          perror ("fanin: starting a command");
          return 1;
        }
      open_pipes++;
    }
  while (open_pipes > 0)
    {
      int ready = epoll_wait (epoll, events, 64, -1);
      if (ready < 0 && errno == EINTR)
        continue;
      if (ready < 0)
        {
          perror ("fanin: epoll_wait");
          return 1;
        }
      for (int i = 0; i < ready; i++)
        {
          int fd = events[i].data.fd;
          if (sizeof buf - used < READ_SIZE)
            {
              if (write_all (buf, used) != 0)
                return 1;
              used = 0;
            }
          ssize_t n = read (fd, buf + used, READ_SIZE);
          if (n > 0)
            used += (size_t) n;
          if (n == 0 || (n < 0 && errno != EINTR))
            {
              epoll_ctl (epoll, EPOLL_CTL_DEL, fd, NULL);
              close (fd);
              open_pipes--;
            }
        }
      if (write_all (buf, used) != 0)
        return 1;
      used = 0;
    }
  while (wait (NULL) > 0 || errno == EINTR)
    ;
  return 0;
}
