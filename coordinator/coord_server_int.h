/*  coord_server_int -- what the files of the coordinator daemon share:
 *  coord_server.c (loop, sockets, settle, life cycle) and
 *  coord_agent_proto.c (the agent protocol). */
#ifndef COORD_SERVER_INT_H
#define COORD_SERVER_INT_H

#include "coord_server.h"

/*  The hex of a ROUTER routing id: the key of a connection in peers. */
void coord_server_peer_key(const zframe_t *routing, char *out, size_t n);
/*  One message on the agent socket (m is borrowed). */
void coord_server_agent_msg(coord_server_t *self, sw_msg_t *m);

#endif
