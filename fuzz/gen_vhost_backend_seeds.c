// SPDX-License-Identifier: MIT
/*
 * gen_vhost_backend_seeds.c - write the data-path and config seeds of the
 * vhost_backend sequence target: sessions that set up a ring, publish
 * requests, kick, stop (GET_VRING_BASE), disable an RX ring, write
 * read-only config bytes; one per state the ring model judges
 * (fe/seqmodel.h, seqmodel_seed()), for net and blk. vu-conform fuzz adds
 * the same sessions as built-in seeds.
 *
 * Usage: gen_vhost_backend_seeds DIR	(writes DIR/seed-<name>-<dev>)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fe/seqmodel.h"

int main(int argc, char **argv)
{
	static const struct {
		enum seqmodel_dev dev;
		const char *name;
	} devs[] = { { SEQMODEL_DEV_NET, "net" }, { SEQMODEL_DEV_BLK, "blk" } };
	uint8_t buf[1024];
	unsigned int d, k, written = 0;
	const char *name;
	char path[512];
	FILE *f;
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (d = 0; d < sizeof(devs) / sizeof(devs[0]); d++) {
		for (k = 0; k < SEQMODEL_SEED_COUNT; k++) {
			n = seqmodel_seed((enum seqmodel_seed_kind)k,
					  devs[d].dev, buf, sizeof(buf), &name);
			if (n < 0) {
				fprintf(stderr, "seed %u: %s\n", k,
					strerror(-n));
				return 1;
			}
			if (!n)
				continue;
			snprintf(path, sizeof(path), "%s/seed-%s-%s", argv[1],
				 name, devs[d].name);
			f = fopen(path, "wb");
			if (!f || fwrite(buf, 1, (size_t)n, f) != (size_t)n ||
			    fclose(f)) {
				fprintf(stderr, "%s: %s\n", path,
					strerror(errno));
				return 1;
			}
			written++;
		}
	}
	printf("%u seeds written to %s\n", written, argv[1]);
	return 0;
}
