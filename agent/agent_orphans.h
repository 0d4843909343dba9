/*  agent_orphans -- kills what a task left behind outside its group.
 *
 *  A process that leaves its task's process group (setsid, a daemon's
 *  double fork) escapes the group kill at the end of the task. The agent is
 *  a child subreaper, so when such a process's parent dies it becomes the
 *  agent's child. Every task's environment carries SWARM_RUN=TOKEN; a
 *  child of the agent that is not a task leader and that the caller does not
 *  keep (tokens of running tasks) is killed, with its process group if it leads one.
 *  Its own children then become ours in turn and go at the next sweep, so
 *  repeated sweeps empty a whole escaped tree. Jenkins' ProcessTreeKiller
 *  finds a build's stray processes by an environment variable the same way.
 *
 *  Children are listed from /proc/self/task/TID/children (one read), or by
 *  a scan of /proc/PID/stat where the kernel lacks CONFIG_PROC_CHILDREN.
 */
#ifndef AGENT_ORPHANS_H
#define AGENT_ORPHANS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define AGENT_RUN_ENV "SWARM_RUN"

/*  Whether to leave child PID alive; TOKEN is its SWARM_RUN, or NULL when
 *  it has none (it cleared its environment, or is still between fork and
 *  exec). */
typedef bool (agent_orphans_keep_fn)(pid_t pid, const char *token, void *arg);

/*  Lists up to MAX children of this process into PIDS; returns how many. */
size_t agent_orphans_children(pid_t *pids, size_t max);

/*  PID's SWARM_RUN value, whole (a token is AGENTPID:JOB ID#ATTEMPT, up to
 *  ~290 bytes with the longest ids; nothing truncates it) into *token
 *  (caller frees): 1 found, 0 none (*token NULL), -1 the process is gone
 *  or unreadable. */
int agent_orphans_token(pid_t pid, char **token);

/*  Kills every child that is not one of the n leaders (running tasks'
 *  own processes: left alone without reading their environment) and that
 *  KEEP does not keep; returns how many. */
int agent_orphans_sweep(const pid_t *leaders, size_t n, agent_orphans_keep_fn *keep, void *arg);

/*  At start: kills every process an earlier agent of this id, no longer
 *  running, left behind (it was SIGKILLed and could not clean up);
 *  returns how many.
 *  Under systemd, KillMode=control-group does this before a restart. */
int agent_orphans_leftovers(const char *agent_id);

int agent_orphans_test(bool verbose);

#endif
