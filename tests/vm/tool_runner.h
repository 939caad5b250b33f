// Runs a built tool (npu-smi, npu-bench) from a VM suite as a child process,
// optionally as another user, and captures what it prints.
#pragma once

#include <string>
#include <vector>

namespace npu_test
{

struct ToolResult {
	int status = -1; // exit status, or 128 + signal
	std::string out;
	std::string err;
};

// The tool at $env_name if set, else at relative inside this build tree
// (build/<preset>/relative, found from the running test binary).
std::string tool_path(const char *env_name, const char *relative);

// Runs path with args (as uid and gid uid, if uid >= 0).
ToolResult run_tool(const std::string &path, const std::vector<std::string> &args, int uid = -1);

} // namespace npu_test
