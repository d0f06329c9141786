/* Writes a few well-formed inputs for fuzz-virtqueue into a directory:
 * rings filled by the driver side (virtqueue/driver.c), so the fuzzer
 * starts from real traffic (split and packed, direct and indirect, with
 * and without EVENT_IDX) and mutates from there. Usage: see README. */
#include <stdio.h>
#include <string.h>

#include "virtqueue/driver.h"

#define RAM_GPA  0x10000ull /* as in fuzz-virtqueue.c */
#define RAM_SIZE (16u << 10)
#define DATA_OFF 0x3000u

static unsigned char ram[RAM_SIZE] __attribute__((aligned(16)));

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	unsigned count = 0;

	for (int packed = 0; packed < 2; packed++)
		for (int features = 0; features < 4; features++)
			for (int sizeidx = 0; sizeidx < 2; sizeidx++) {
				uint16_t size = sizeidx ? 8 : 4;
				uint64_t f = (features & 1 ? VQD_F_EVENT_IDX : 0) | (features & 2 ? VQD_F_INDIRECT_DESC : 0);
				struct vqd q;
				unsigned char hdr[8];
				char path[512];
				FILE *out;

				memset(ram, 0, sizeof(ram));
				if ((packed ? vqd_init_packed : vqd_init_split)(&q, size, ram, RAM_GPA, f) < 0)
					return 1;
				for (unsigned k = 0; k + 1 < size; k++) {
					struct vqd_buf o[2] = { { RAM_GPA + DATA_OFF + 64 * k, 16 }, { RAM_GPA + DATA_OFF + 64 * k + 16, 8 } };
					struct vqd_buf i = { RAM_GPA + DATA_OFF + 0x800 + 32 * k, 32 };
					vqd_add(&q, o, 1 + k % 2, &i, k % 3 ? 1 : 0, (void *)(uintptr_t)(k + 1), k % 2);
				}
				hdr[0] = packed ? (uint8_t)(size - 1) : (uint8_t)(sizeidx ? 3 : 2); /* size */
				hdr[1] = (uint8_t)(packed | (features & 1 ? 0x02 : 0) | (features & 2 ? 0x04 : 0) | 0x08 | 0x20);
				uint16_t offs[3] = { (uint16_t)(q.desc_gpa - RAM_GPA), (uint16_t)(q.avail_gpa - RAM_GPA),
						     (uint16_t)(q.used_gpa - RAM_GPA) };
				memcpy(hdr + 2, offs, sizeof(offs));
				snprintf(path, sizeof(path), "%s/seed-%u", dir, count++);
				out = fopen(path, "wb");
				if (!out)
					return 1;
				fwrite(hdr, 1, sizeof(hdr), out);
				fwrite(ram, 1, DATA_OFF + 0x1000, out);
				fclose(out);
			}
	printf("%u seeds in %s\n", count, dir);
	return 0;
}
