// SPDX-License-Identifier: MIT
// A module parameter lowered (or raised) by a test and restored after it:
// the tenant and user-mode queue tests tune the npu module through
// /sys/module/npu/parameters.
#pragma once

#include <fstream>
#include <stdexcept>
#include <string>

namespace npu_test
{

// Sets a writable module parameter for the lifetime of the object.
class ModuleParam
{
public:
	ModuleParam(const std::string &name, const std::string &value)
	    : path_("/sys/module/npu/parameters/" + name)
	{
		std::ifstream in(path_);
		if (!std::getline(in, old_))
			throw std::runtime_error("cannot read " + path_);
		Write(value);
	}
	~ModuleParam() { Write(old_); }
	ModuleParam(const ModuleParam &) = delete;
	ModuleParam &operator=(const ModuleParam &) = delete;

private:
	void Write(const std::string &value)
	{
		std::ofstream out(path_);
		out << value << "\n";
		out.flush();
		if (!out)
			throw std::runtime_error("cannot write " + path_);
	}
	std::string path_;
	std::string old_;
};

} // namespace npu_test
