#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Runs checkpatch --strict over every driver file.
#
# checkpatch.pl is not packaged on its own. `apt-get install
# linux-source-6.12` gives /usr/src/linux-source-6.12.tar.xz; this script
# extracts just scripts/checkpatch.pl and its data files (spelling.txt,
# const_structs.checkpatch) to a temporary directory and runs
#   checkpatch.pl --strict --no-tree -f <file>
# on each file. The driver must stay free of errors, warnings and checks.
#
# usage: $0 [linux-source tarball]

set -eu

TARBALL=${1:-/usr/src/linux-source-6.12.tar.xz}
DRIVER_DIR=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

tar -xJf "$TARBALL" -C "$TMP" --strip-components=1 --wildcards \
	'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
	'*/scripts/const_structs.checkpatch'

cd "$DRIVER_DIR"
"$TMP/scripts/checkpatch.pl" --strict --no-tree --show-types -f \
	./*.c ./*.h ./*.sh Kbuild Makefile
