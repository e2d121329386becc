"""Sockets inside the machine (net/socket.c, net/unix/af_unix.c, net/ipv4/): AF_UNIX
stream, datagram and seqpacket sockets, and AF_INET/AF_INET6 TCP and UDP over loopback
only. Nothing here opens a host socket: every byte a guest sends is queued on another
guest socket, and an address that is not the loopback's is unreachable (the machine has no
network).

socket.py holds what every socket shares (the receive queue, wait queues, shutdown,
options, poll); unix.py and inet.py the two families; namespace.py the names a socket can
be found by (abstract names, ports); addr.py the sockaddr layouts; uapi.py the numbers."""
