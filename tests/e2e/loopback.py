"""What the e2e test servers written in Python share."""
import socket


def listener(port, backlog):
    """A TCP socket listening on 127.0.0.1:port. SO_REUSEADDR: a port a test
    used a moment ago (its connections in TIME_WAIT) is taken at once."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    return s
