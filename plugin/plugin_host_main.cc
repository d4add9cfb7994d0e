// plugin/plugin_host_main.cc: amc-plugin-host, the dynamically linked
// program a statically linked amc execs as a plug-in's child
// (plugin/plugin_host.h). The serving happens before main, in the loader's
// start-up hook, when the environment names a plug-in; main only runs when
// someone starts the host by hand.
#include <cstdio>

#include "plugin/plugin_backend.h"

int main() {
  // Serves and never returns when this is a plug-in child (the hook has
  // already done so; the call also keeps the hook linked in).
  amc::plugin::ServeIfPluginChild();
  std::fprintf(stderr,
               "amc-plugin-host: runs a plug-in's child process for amc "
               "(AMC_PLUGIN_HOST, docs/plugins.md); not a command to run "
               "by hand\n");
  return 2;
}
