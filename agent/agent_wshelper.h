/*  agent_wshelper -- the agent's workspace helper process:
 *
 *    swarm-agent-workspace --workspace-helper REQUEST.json
 *    swarm-agent --workspace-helper REQUEST.json   (when the former is missing)
 *
 *  The agent never runs git in its event loop: for each stage of a task's
 *  workspace it starts its own binary in this mode, as a child in a
 *  process group of its own with a timeout, stopped like a task on cancel
 *  and shutdown. The request is a JSON file in the agent's state
 *  directory (never argv); the answer goes to the file the request names,
 *  created O_EXCL|O_NOFOLLOW. The Redis URL comes in $SWARM_REDIS and a
 *  password file in the request, as the agent has them (never argv).
 *
 *  "op": "prepare"  makes the task's worktree: the commits it starts from
 *      are made present in the per-repository mirror (by manifest from
 *      Redis, or fetched from the repository URL), the start is the task's
 *      workspace commit, or its one dependency's result, or the merge of
 *      several (a conflict fails the task before it starts, naming the
 *      files); then the worktree is checked out (or a finished one is
 *      reset to it: only changed files are written) with a .git of its own
 *      that borrows the mirror's objects (alternates), so nothing a task
 *      does with git reaches the mirror.
 *  "op": "capture"  after the task: the worktree becomes a commit on the
 *      start (what `git add -A` would take, found by one scan and staged
 *      in the agent's own index: .gitignore holds), stored as a manifest
 *      with its pack and a binary-safe patch; on success the files
 *      matching the output globs are stored by digest.
 *  "op": "sweep"    removes every worktree below the agent's root but the
 *      ones named, and caps the mirror cache (least recently used first).
 *
 *  Mirrors: MIRRORS/REPO.git (bare; the commits in use pinned by
 *  refs/swarm/pin/OID so git gc keeps them), REPO.lock (flock: one writer
 *  at a time), REPO.use (flock: shared by whoever uses the mirror, taken
 *  exclusively only to evict it), REPO.used (its mtime: last use),
 *  REPO.size (bytes on disk, updated by writers).
 *
 *  This file has the request, the mirrors and main; agent_wsprepare.c and
 *  agent_wscapture.c the stages (agent_wsh.h is what they share).
 */
#ifndef AGENT_WSHELPER_H
#define AGENT_WSHELPER_H

#include <jansson.h>

#include "sw_util.h"

#define AGENT_WS_HELPER_ARG "--workspace-helper"

/*  The helper's main: 0 when the answer was written (ok or not), 1 when
 *  not even that was possible. */
int agent_wshelper_main(int argc, char **argv);

/*  Removes path and everything below it, never following a symlink, and
 *  making directories a task made unreadable readable first. 0 or -1. */
int agent_ws_rmrf(const char *path);

/*  The locks of a mirror: an fd with flock op on MIRRORS/REPO.SUFFIX
 *  (created when missing; never deleted), or -1. */
int agent_ws_lock(const char *mirrors, const char *repo, const char *suffix, int op);

/*  Evicts mirrors of MIRRORS least recently used first (REPO.used), but
 *  never one in use (its use lock is held by a helper or a running task)
 *  nor keep, until their REPO.size add up to at most cap. */
void agent_ws_evict(const char *mirrors, const char *keep, uint64_t cap);

int agent_wshelper_test(bool verbose);

#endif
