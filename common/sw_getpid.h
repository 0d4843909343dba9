/*  sw_getpid -- getpid() answered from memory in the daemons (issue 20).
 *
 *  libzmq calls getpid() before every operation on a mailbox's signaler
 *  (its fork check: src/signaler.cpp, under HAVE_FORK), and zmq_poll asks
 *  every socket for its events through that signaler. Each call is a
 *  system call since glibc 2.25 dropped its pid cache: 15 per fanout
 *  task in the agent and 17 in the coordinator, 20 and 33 per roundtrip
 *  task (strace -c, docs/benchmarks.md), about 1 µs each on this VM.
 *
 *  common/sw_getpid.c defines getpid() itself and is linked into
 *  swarm-coordinator, swarm-agent and swarm_selftest (not into a library:
 *  an archive member would be left out when nothing of ours calls
 *  getpid). An executable that defines a function a shared library it
 *  links uses exports it, and the dynamic linker binds the library's
 *  calls to the executable's definition first (ELF symbol interposition,
 *  the way malloc replacements work), so libzmq's checks read memory.
 *
 *  Why glibc dropped its cache: a process made with clone or vfork
 *  without fork's handlers saw its parent's pid. Here fork() runs the
 *  atfork handler that forgets the pid in the child (so libzmq's check
 *  still sees a fork), and the daemons' other children (agent_spawn's
 *  clone, glibc's posix_spawn) call no getpid() before they exec.
 */
#ifndef SW_GETPID_H
#define SW_GETPID_H

#include <stdbool.h>

/*  Self-test (unit.getpid): the answer matches the kernel's, in a forked
 *  child too, and the libraries see this definition. */
int sw_getpid_test(bool verbose);

#endif
