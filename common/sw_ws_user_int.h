/*  sw_ws_user_int -- the user's repository as the snapshot (sw_ws_user.c)
 *  and apply (sw_ws_apply.c) open it, and the work tree's entries apply
 *  saves before it writes (sw_ws_save.c). Private to those files: nothing
 *  else includes it. Every call blocks on git (sw_git), in the user's
 *  repository with their git configuration.
 */
#ifndef SW_WS_USER_INT_H
#define SW_WS_USER_INT_H

#include "sw_ws.h"

#include <stdint.h>

/*  The user's repository: its work tree top, git dir, and the index git
 *  uses there. */
typedef struct {
    char *top;
    char *git_dir;
    char *index;                /*  the user's index file (may not exist) */
    char *prefix;
    char *tmp_index;            /*  ours, in git_dir (TMPDIR if it takes none) */
} sw_ws_user_t;

/*  Opens the repository dir is in (any directory of its work tree):
 *  every field but tmp_index set, all strings owned by u. 0; -1 with
 *  err (SW_EINVAL: dir is no directory, or not inside a git work tree;
 *  git's own error otherwise), u then empty. */
int sw_ws_user_open(const char *dir, sw_ws_user_t *u, sw_err_t *err);

/*  Frees u's strings and removes its temporary index (and the index's
 *  lock file) when it made one; u empty after. While the temporary index
 *  exists, SIGINT, SIGTERM, SIGHUP and SIGQUIT remove it before they end
 *  the process (handlers installed by sw_ws_user_tree, the old ones back
 *  here). */
void sw_ws_user_release(sw_ws_user_t *u);

/*  The work tree as a tree: HEAD plus tracked and untracked (not
 *  ignored) changes, written through a temporary index (u->tmp_index, a
 *  copy of the user's index in their git dir; the user's index and refs
 *  are not touched). max_file in bytes: uncommitted files over it are
 *  refused before anything is hashed (0: no check). 0 with the tree's
 *  object name in tree; -1 with err (SW_EINVAL naming the files over
 *  max_file). */
int sw_ws_user_tree(sw_ws_user_t *u, uint64_t max_file, char tree[65], sw_err_t *err);

/*  The work tree's entries at paths (relative to top, sorted as git
 *  sorts them), saved before a write that may replace or delete them: a
 *  hard link each (a copy where none can be made) in a new directory
 *  <git_dir>/swarm-apply-save.XXXXXX; where nothing (or a directory) is,
 *  that is noted. Owned by the caller, who ends it with _drop or
 *  _restore. NULL with err when something could not be saved (SW_EFAIL;
 *  the directory removed: nothing was changed). A hard link changes the
 *  file's ctime: when sw_ws_save_linked says some were linked, refresh
 *  an index's stat data after (update-index --refresh). */
typedef struct sw_ws_save sw_ws_save_t;
sw_ws_save_t *sw_ws_save(const char *top, const char *git_dir, const sw_strv_t *paths,
                         sw_err_t *err);
bool sw_ws_save_linked(const sw_ws_save_t *s);

/*  The write went through: the saved entries are dropped (the directory
 *  removed) and s freed. NULL is a no-op. */
void sw_ws_save_drop(sw_ws_save_t *s);

/*  The write failed: every path as it was at sw_ws_save (files, symlinks,
 *  modes; what the write made where nothing was removed, with the
 *  directories it made for it). Frees s. 0; -1 with err naming a path
 *  that could not be put back and the directory that keeps the saved
 *  entries (then left in place for the user). */
int sw_ws_save_restore(sw_ws_save_t *s, sw_err_t *err);

#endif
