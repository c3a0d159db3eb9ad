/* The service manager's view of the gateway: sd_notify(3)'s datagram
 * protocol, spoken directly (notify.c says why). Without $NOTIFY_SOCKET
 * (not started by systemd with Type=notify) every call does nothing. */
#ifndef TLSGATE_GW_NOTIFY_H
#define TLSGATE_GW_NOTIFY_H

#include "tlsgate/err.h"

/* Sends one message of "KEY=VALUE" lines: READY=1, STOPPING=1, STATUS=... */
void gw_notify(const char *fmt, ...) TG_PRINTF(1, 2);

/* RELOADING=1 with the CLOCK_MONOTONIC time systemd >= 253 wants beside it;
 * READY=1 ends the reload. */
void gw_notify_reloading(void);

#endif
