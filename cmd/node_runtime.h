// Runs a node from its data directory until SIGTERM or SIGINT.
#pragma once

#include "node/data_dir.h"

namespace hearth {

// Blocks SIGTERM/SIGINT in the calling thread (and so in every thread it
// starts); call first thing in main.
void BlockShutdownSignals();

// Returns the process exit code. Problems that stop the node are printed
// as one line on stderr.
int RunNode(const DataDir& dir);

}  // namespace hearth
