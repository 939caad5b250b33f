// SPDX-License-Identifier: MIT
/*
 * npu_fwpack: wraps a flat firmware payload into an npu_fw.bin image (the
 * 256-byte struct npu_fw_header followed by the payload), or checks an
 * image and prints its header.
 *
 *   npu_fwpack -o OUT --mem-size N --entry-offset N --fw-version X.Y.Z
 *              [--build-id STR] PAYLOAD
 *   npu_fwpack --check IMAGE
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npu_hw.h"

#define FW_PAYLOAD_MAX	(NPU_FW_REGION_SIZE - NPU_FW_HEADER_SIZE)

/* CRC-32, reflected polynomial 0xEDB88320 (IEEE 802.3, as zlib's crc32) */
static uint32_t crc32_ieee(const uint8_t *data, size_t len)
{
	static uint32_t table[256];
	uint32_t crc = 0xffffffffu;

	if (!table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	}
	for (size_t i = 0; i < len; i++)
		crc = table[(crc ^ data[i]) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffffu;
}

static uint8_t *read_file(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;

	if (!f) {
		fprintf(stderr, "npu_fwpack: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		fprintf(stderr, "npu_fwpack: out of memory\n");
		return NULL;
	}
	*len = fread(buf, 1, max + 1, f);
	if (ferror(f) || *len > max) {
		fprintf(stderr, "npu_fwpack: %s: %s\n", path,
			ferror(f) ? "read error" : "too large");
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

static bool parse_u32(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* "X.Y.Z" -> X << 16 | Y << 8 | Z */
static bool parse_version(const char *s, uint32_t *out)
{
	unsigned int major, minor, patch;
	char tail;

	if (sscanf(s, "%u.%u.%u%c", &major, &minor, &patch, &tail) != 3 ||
	    major > 0xffff || minor > 0xff || patch > 0xff)
		return false;
	*out = major << 16 | minor << 8 | patch;
	return true;
}

static void print_header(const struct npu_fw_header *h)
{
	printf("magic         0x%08x\n", h->magic);
	printf("abi           %u.%u\n", h->abi_major, h->abi_minor);
	printf("header_size   %u\n", h->header_size);
	printf("image_size    %u\n", h->image_size);
	printf("mem_size      %u\n", h->mem_size);
	printf("entry_offset  0x%x (core address 0x%llx)\n", h->entry_offset,
	       (unsigned long long)(NPU_CORE_FW_ENTRY_BASE + h->entry_offset));
	printf("checksum      0x%08x\n", h->checksum);
	printf("fw_version    %u.%u.%u\n", h->fw_version >> 16,
	       (h->fw_version >> 8) & 0xff, h->fw_version & 0xff);
	printf("build_id      %.*s\n", (int)sizeof(h->build_id), h->build_id);
}

/* Same rules as the device ROM, plus the fields the ROM does not read. */
static int check_image(const char *path)
{
	struct npu_fw_header h;
	const char *err = NULL;
	uint8_t *img;
	size_t len;
	uint32_t crc = 0;

	img = read_file(path, NPU_FW_REGION_SIZE, &len);
	if (!img)
		return 1;
	if (len < sizeof(h)) {
		fprintf(stderr, "npu_fwpack: %s: shorter than a header\n", path);
		free(img);
		return 1;
	}
	memcpy(&h, img, sizeof(h));
	print_header(&h);
	if (h.image_size <= len - NPU_FW_HEADER_SIZE)
		crc = crc32_ieee(img + NPU_FW_HEADER_SIZE, h.image_size);

	if (h.magic != NPU_FW_MAGIC)
		err = "bad magic";
	else if (h.abi_major != NPU_FW_ABI_MAJOR)
		err = "unsupported ABI major";
	else if (h.header_size != NPU_FW_HEADER_SIZE)
		err = "bad header_size";
	else if (h.image_size != len - NPU_FW_HEADER_SIZE)
		err = "image_size does not match the file";
	else if (h.mem_size < h.image_size || h.mem_size > FW_PAYLOAD_MAX)
		err = "mem_size outside [image_size, region size - header]";
	else if (h.entry_offset >= h.image_size || h.entry_offset % 2)
		err = "entry_offset outside the payload or misaligned";
	else if (crc != h.checksum)
		err = "checksum mismatch";
	else if (!memchr(h.build_id, '\0', sizeof(h.build_id)))
		err = "build_id not NUL-terminated";
	for (size_t i = 0; !err && i < sizeof(h.reserved) / 4; i++)
		if (h.reserved[i])
			err = "reserved field not zero";
	free(img);
	if (err) {
		fprintf(stderr, "npu_fwpack: %s: INVALID: %s\n", path, err);
		return 1;
	}
	printf("%s: OK\n", path);
	return 0;
}

static int pack_image(const char *payload_path, const char *out_path,
		      const struct npu_fw_header *proto)
{
	struct npu_fw_header h = *proto;
	uint8_t *payload;
	size_t len;
	FILE *f;
	int ret = 1;

	payload = read_file(payload_path, FW_PAYLOAD_MAX, &len);
	if (!payload)
		return 1;
	h.image_size = (uint32_t)len;
	h.checksum = crc32_ieee(payload, len);
	if (h.mem_size < h.image_size || h.mem_size > FW_PAYLOAD_MAX ||
	    h.entry_offset >= h.image_size) {
		fprintf(stderr,
			"npu_fwpack: inconsistent sizes: image %u mem %u entry 0x%x\n",
			h.image_size, h.mem_size, h.entry_offset);
		goto out;
	}
	f = fopen(out_path, "wb");
	if (!f) {
		fprintf(stderr, "npu_fwpack: %s: %s\n", out_path,
			strerror(errno));
		goto out;
	}
	if (fwrite(&h, sizeof(h), 1, f) != 1 ||
	    (len && fwrite(payload, len, 1, f) != 1) || fclose(f)) {
		fprintf(stderr, "npu_fwpack: %s: write failed\n", out_path);
		remove(out_path);
		goto out;
	}
	ret = 0;
out:
	free(payload);
	return ret;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: npu_fwpack -o OUT --mem-size N --entry-offset N\n"
		"                  --fw-version X.Y.Z [--build-id STR] PAYLOAD\n"
		"       npu_fwpack --check IMAGE\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "check", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "mem-size", required_argument, NULL, 'm' },
		{ "entry-offset", required_argument, NULL, 'e' },
		{ "fw-version", required_argument, NULL, 'v' },
		{ "build-id", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct npu_fw_header h = {
		.magic = NPU_FW_MAGIC,
		.abi_major = NPU_FW_ABI_MAJOR,
		.abi_minor = NPU_FW_ABI_MINOR,
		.header_size = NPU_FW_HEADER_SIZE,
	};
	const char *check = NULL, *out = NULL;
	bool have_mem = false, have_entry = false, have_version = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			check = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'm':
			have_mem = parse_u32(optarg, &h.mem_size);
			if (!have_mem)
				goto bad_arg;
			break;
		case 'e':
			have_entry = parse_u32(optarg, &h.entry_offset);
			if (!have_entry)
				goto bad_arg;
			break;
		case 'v':
			have_version = parse_version(optarg, &h.fw_version);
			if (!have_version)
				goto bad_arg;
			break;
		case 'b':
			if (strlen(optarg) >= sizeof(h.build_id)) {
				fprintf(stderr, "npu_fwpack: build id longer than %zu\n",
					sizeof(h.build_id) - 1);
				return 2;
			}
			strcpy(h.build_id, optarg);
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (check)
		return optind == argc ? check_image(check) : (usage(), 2);
	if (!out || !have_mem || !have_entry || !have_version ||
	    optind != argc - 1) {
		usage();
		return 2;
	}
	return pack_image(argv[optind], out, &h);

bad_arg:
	fprintf(stderr, "npu_fwpack: bad value '%s'\n", optarg);
	return 2;
}
