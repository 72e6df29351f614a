/* kv-client: the client side of kv-server, written with GIO sockets.  It
 * reads commands on stdin; "connect HOST PORT" connects, every other line
 * goes to the server, and each answer is printed as it arrives.
 *
 *   build/part6-harness/examples/kv-client [HOST PORT]
 *   connect 127.0.0.1 40123
 *   connected to 127.0.0.1 port 40123
 *   login alice
 *   welcome alice
 *
 * One main loop waits on both stdin and the connection, so an answer is
 * printed even while nothing is typed.  stdout is line-buffered so that a
 * pipe (pipe-harness) gets every line at once.  It ends at end-of-file on
 * stdin; when the server closes the connection it says "disconnected" and
 * takes commands again.  Given HOST and PORT, it connects at once, as if
 * "connect HOST PORT" had been its first command.
 */
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  GMainLoop *loop;
  GDataInputStream *commands;
  GSocketConnection *connection;
  GDataInputStream *answers;
  GCancellable *reading_answers;
} Client;

static void read_next_command (Client *client);

static void
disconnect (Client *client)
{
  if (client->reading_answers != NULL)
    g_cancellable_cancel (client->reading_answers);
  g_clear_object (&client->reading_answers);
  g_clear_object (&client->answers);
  g_clear_object (&client->connection);
}

static void read_next_answer (Client *client);

static void
on_answer_read (GObject *source, GAsyncResult *result, gpointer data)
{
  Client *client = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (
    G_DATA_INPUT_STREAM (source), result, NULL, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (line == NULL)
    {
      printf ("disconnected%s%s\n", error ? ": " : "", error ? error->message : "");
      disconnect (client);
      return;
    }
  printf ("%s\n", g_strchomp (line));
  read_next_answer (client);
}

static void
read_next_answer (Client *client)
{
  g_data_input_stream_read_line_async (client->answers, G_PRIORITY_DEFAULT,
                                       client->reading_answers, on_answer_read, client);
}

static void
connect_to (Client *client, const char *host, const char *port_text)
{
  g_autoptr (GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  guint64 port;

  if (!g_ascii_string_to_unsigned (port_text, 10, 1, 65535, &port, NULL))
    {
      printf ("error: '%s' is not a port\n", port_text);
      return;
    }
  disconnect (client);
  client->connection = g_socket_client_connect_to_host (socket_client, host, port, NULL, &error);
  if (client->connection == NULL)
    {
      printf ("error: cannot connect to %s port %s: %s\n", host, port_text, error->message);
      return;
    }
  client->answers = g_data_input_stream_new (
    g_io_stream_get_input_stream (G_IO_STREAM (client->connection)));
  client->reading_answers = g_cancellable_new ();
  printf ("connected to %s port %s\n", host, port_text);
  read_next_answer (client);
}

static void
send_command (Client *client, const char *line)
{
  g_autofree char *text = g_strconcat (line, "\n", NULL);
  g_autoptr (GError) error = NULL;
  GOutputStream *out;

  if (client->connection == NULL)
    {
      printf ("error: not connected (type: connect HOST PORT)\n");
      return;
    }
  out = g_io_stream_get_output_stream (G_IO_STREAM (client->connection));
  if (!g_output_stream_write_all (out, text, strlen (text), NULL, NULL, &error))
    printf ("error: cannot send: %s\n", error->message);
}

static void
on_command_read (GObject *source, GAsyncResult *result, gpointer data)
{
  Client *client = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish_utf8 (
    G_DATA_INPUT_STREAM (source), result, NULL, &error);

  if (line == NULL)
    {
      g_main_loop_quit (client->loop); /* end of our input */
      return;
    }
  g_strchomp (line);
  g_auto (GStrv) words = g_strsplit (line, " ", -1);
  if (g_strv_length (words) == 3 && strcmp (words[0], "connect") == 0)
    connect_to (client, words[1], words[2]);
  else if (*line != '\0')
    send_command (client, line);
  read_next_command (client);
}

static void
read_next_command (Client *client)
{
  g_data_input_stream_read_line_async (client->commands, G_PRIORITY_DEFAULT, NULL,
                                       on_command_read, client);
}

int
main (int argc, char **argv)
{
  g_autoptr (GInputStream) stdin_stream = g_unix_input_stream_new (0, FALSE);
  Client client = { 0 };

  if (argc != 1 && argc != 3)
    {
      fprintf (stderr, "usage: kv-client [HOST PORT]\n");
      return 2;
    }
  setvbuf (stdout, NULL, _IOLBF, 0);
  client.loop = g_main_loop_new (NULL, FALSE);
  if (argc == 3)
    connect_to (&client, argv[1], argv[2]);
  client.commands = g_data_input_stream_new (stdin_stream);
  read_next_command (&client);
  g_main_loop_run (client.loop);

  disconnect (&client);
  g_object_unref (client.commands);
  g_main_loop_unref (client.loop);
  return 0;
}
