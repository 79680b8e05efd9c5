/* valkey_conn.c -- opening a Valkey connection from the config (see header). */
#include "edgewatch/valkey_conn.h"

#include <stdbool.h>
#include <stdio.h>

static void set_valkey_error(const ew_config *cfg, const char *what, char *err, size_t errcap)
{
    snprintf(err, errcap, "valkey %s:%d: %s", cfg->valkey_host, cfg->valkey_port, what);
}

redisContext *ew_valkey_connect(const ew_config *cfg, char *err, size_t errcap)
{
    struct timeval tv = {cfg->valkey_timeout_ms / 1000, (cfg->valkey_timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(cfg->valkey_host, cfg->valkey_port, tv);
    if (!c || c->err) {
        set_valkey_error(cfg, c ? c->errstr : "cannot allocate context", err, errcap);
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (!cfg->valkey_password || !*cfg->valkey_password)
        return c;
    redisReply *r = redisCommand(c, "AUTH %s", cfg->valkey_password);
    bool ok = r && r->type == REDIS_REPLY_STATUS;
    if (!ok)
        set_valkey_error(cfg, r && r->str ? r->str : c->errstr, err, errcap);
    freeReplyObject(r);
    if (!ok) {
        redisFree(c);
        return NULL;
    }
    return c;
}
