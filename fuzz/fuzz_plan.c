/*  fuzz_plan -- libFuzzer target for `swarm run`'s inputs: the YAML plan
 *  parser and validator (all three shapes), the command-list parser and
 *  the template renderer. The seeds in corpus/plan are the examples and
 *  the plans of the tests. Errors are fine; crashes, leaks and reads past
 *  the input are not.
 */
#include <stddef.h>
#include <stdint.h>

#include "sw_plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    for (int commands = 0; commands < 2; commands++) {
        sw_plan_t p;
        sw_strv_t errors = { 0 };
        sw_plan_init(&p);
        int rc = commands ? sw_plan_commands("fuzz.txt", text, size, &p, &errors)
                          : sw_plan_parse("fuzz.yaml", text, size, &p, &errors);
        if (rc == 0)
            sw_plan_render(&p);
        sw_plan_release(&p);
        sw_strv_release(&errors);
    }
    return 0;
}
