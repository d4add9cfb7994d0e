// tools/amc/main.cc: the amc binary.
#include "tools/amc/commands.h"

int main(int argc, char** argv) { return amc::cli::Main(argc, argv); }
