// Child-process runner for the VM suites' tool tests (tool_runner.h).
#include "tool_runner.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <thread>

namespace npu_test
{

std::string tool_path(const char *env_name, const char *relative)
{
	if (const char *env = std::getenv(env_name))
		return env;
	// build/<preset>/tests/vm/<suite> -> build/<preset>/<relative>
	namespace fs = std::filesystem;
	return (fs::read_symlink("/proc/self/exe").parent_path() / "../.." / relative)
		.lexically_normal();
}

ToolResult run_tool(const std::string &path, const std::vector<std::string> &args, int uid)
{
	int out_pipe[2], err_pipe[2];
	if (pipe(out_pipe) || pipe(err_pipe))
		throw std::runtime_error("pipe");
	const pid_t pid = fork();
	if (pid == 0) {
		dup2(out_pipe[1], 1);
		dup2(err_pipe[1], 2);
		close(out_pipe[0]);
		close(err_pipe[0]);
		if (uid >= 0 && (setgid(uid) || setuid(uid)))
			_exit(126);
		std::vector<std::string> argv{path};
		argv.insert(argv.end(), args.begin(), args.end());
		std::vector<char *> cargs;
		for (auto &a : argv)
			cargs.push_back(a.data());
		cargs.push_back(nullptr);
		execv(cargs[0], cargs.data());
		_exit(127);
	}
	close(out_pipe[1]);
	close(err_pipe[1]);
	ToolResult result;
	// stderr is small; read stdout to the end first, then stderr.
	auto drain = [](int fd, std::string &text) {
		char buf[4096];
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			text.append(buf, static_cast<size_t>(n));
		close(fd);
	};
	std::thread err_reader(drain, err_pipe[0], std::ref(result.err));
	drain(out_pipe[0], result.out);
	err_reader.join();
	int status = 0;
	waitpid(pid, &status, 0);
	result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return result;
}

} // namespace npu_test
