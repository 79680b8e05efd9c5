/* route.c -- which routes an alert takes through the tree.
 *
 * Alertmanager's walk: the root matches everything; at a matching route the
 * children are tried in order, the first matching child takes the alert and
 * stops the search unless it says `continue`; a matching route none of
 * whose children match is itself a destination. Matching is by glob
 * (fnmatch) on labels, so "checkout*" or "cost_*" need no regex engine and
 * read the way shell users expect.
 */
#include "edgewatch/notify.h"

#include <fnmatch.h>

static bool label_matches(const ew_route_match *m, const ew_notify_alert *a)
{
    const char *value = ew_notify_alert_label(a, m->label);
    if (!value)
        return false;
    for (size_t i = 0; i < m->n_globs; i++)
        if (fnmatch(m->globs[i], value, 0) == 0)
            return true;
    return false;
}

static bool route_matches(const ew_route *r, const ew_notify_alert *a)
{
    for (size_t i = 0; i < r->n_match; i++)
        if (!label_matches(&r->match[i], a))
            return false;
    return true;
}

/* Adds r's destinations for a (r already matched) to out; returns the count. */
static size_t walk(const ew_route *r, const ew_notify_alert *a, const ew_route **out, size_t n, size_t cap)
{
    bool child_took_it = false;
    for (size_t i = 0; i < r->n_children; i++) {
        const ew_route *c = &r->children[i];
        if (!route_matches(c, a))
            continue;
        n = walk(c, a, out, n, cap);
        child_took_it = true;
        if (!c->continue_matching)
            break;
    }
    if (!child_took_it && n < cap)
        out[n++] = r;
    return n;
}

size_t ew_route_find(const ew_route *root, const ew_notify_alert *a, const ew_route **out, size_t cap)
{
    return walk(root, a, out, 0, cap);
}
