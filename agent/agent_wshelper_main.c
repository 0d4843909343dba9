/*  swarm-agent-workspace -- the agent's workspace helper as a program of its
 *  own (agent_wshelper.h). It links no ZeroMQ: started twice per task, it
 *  costs a few milliseconds where `swarm-agent --workspace-helper` costs
 *  tens (loading ZeroMQ and its libraries; docs/benchmarks.md). The agent
 *  falls back on the latter when this program is not beside it. */
#include <stdio.h>
#include <string.h>

#include "agent_wshelper.h"

int
main(int argc, char **argv)
{
    if (sw_stdio_open() < 0)
        return 1;
    if (argc != 3 || strcmp(argv[1], AGENT_WS_HELPER_ARG) != 0) {
        fprintf(stderr, "usage: swarm-agent-workspace %s REQUEST.json (swarm-agent starts it)\n",
                AGENT_WS_HELPER_ARG);
        return 2;
    }
    return agent_wshelper_main(argc, argv);
}
