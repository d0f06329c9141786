/* Kernel loading front end. The file is read whole into host memory (it
 * is at most KERNEL_FILE_MAX), parsed by bzimage.c or elf-kernel.c, and
 * every write into the guest goes through guest_mem_ptr(), which refuses
 * any range that is not wholly RAM. */
#include "kvm/x86/kernel-load.h"
#include "base/monotonic.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kvm/x86/bzimage-unpack.h"
#include "kvm/x86/layout.h"
#include "base/log.h"

/* Read exactly len bytes at off into dst: -EIO if the file ends first. */
/* Zero [p, p+len) of guest RAM. Guest RAM is private anonymous memory
 * (kvm_vm_add_ram), so whole pages dropped with MADV_DONTNEED read back
 * as zeros: a kernel's bss (the test guest's is 3.4 MiB) then costs
 * neither instructions nor resident memory until the guest touches it.
 * The partial pages at either end, and any madvise failure, get memset. */
static void zero_guest_bytes(uint8_t *p, uint64_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(page - 1);
	if (end <= start || madvise((void *)start, end - start, MADV_DONTNEED) < 0) {
		memset(p, 0, len);
		return;
	}
	memset(p, 0, start - (uintptr_t)p);
	memset((void *)end, 0, (uintptr_t)p + len - end);
}

static int pread_full(int fd, uint8_t *dst, uint64_t len, uint64_t off)
{
	for (uint64_t done = 0; done < len;) {
		ssize_t n = pread(fd, dst + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (uint64_t)n;
	}
	return 0;
}

/* Read [off, off + len) of fd into buf + off (buf holds the whole file,
 * size bytes), clamped to the file: what lies past its end stays as it
 * is, and the parser's own bounds checks reject it. */
static int read_range(int fd, uint8_t *buf, size_t size, uint64_t off, uint64_t len)
{
	if (off >= size)
		return 0;
	return pread_full(fd, buf + off, len > size - off ? size - off : len, off);
}

static int read_failed(int ret, const char *path, char *err, size_t errlen)
{
	err_printf(err, errlen, "%s: read failed: %s", path, ret == -EIO ? "file shrank" : strerror(-ret));
	return ret;
}

/* Read all of fd (a regular file of `size` bytes) into a new buffer. */
static int read_whole_file(int fd, const char *path, size_t size, uint8_t **out, char *err, size_t errlen)
{
	uint8_t *buf = malloc(size);

	if (!buf) {
		err_printf(err, errlen, "%s: out of memory reading %zu bytes", path, size);
		return -ENOMEM;
	}
	int ret = read_range(fd, buf, size, 0, size);
	if (ret) {
		free(buf);
		return read_failed(ret, path, err, errlen);
	}
	*out = buf;
	return 0;
}

/* The PT_NOTE segments skiff reads (a vmlinux has a few hundred bytes). */
#define ELF_NOTES_MAX (1u << 20)

/* What the ELF parser looks at, and nothing else: the ELF header, the
 * program headers and the PT_NOTE segments, each at its offset in buf
 * (the file's size, zeroed, and costing no memory where nothing is
 * written). The PT_LOAD segments go from the file straight into guest
 * memory in elf_load(). Offsets are only clamped here; the parser checks
 * them. */
static int read_elf_metadata(int fd, uint8_t *buf, size_t size, const char *path, char *err, size_t errlen)
{
	uint64_t notes = 0;
	int ret = read_range(fd, buf, size, 0, sizeof(Elf64_Ehdr));
	bool is_64 = size > EI_CLASS && buf[EI_CLASS] == ELFCLASS64;
	size_t phsize = is_64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	struct elf_kernel_ehdr eh;

	if (ret)
		return read_failed(ret, path, err, errlen);
	if (size < (is_64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr)))
		return 0; /* the parser says what is wrong */
	elf_kernel_read_ehdr(buf, is_64, &eh);
	if (eh.phoff >= size || (uint64_t)eh.phnum * phsize > size - eh.phoff)
		return 0;
	if ((ret = read_range(fd, buf, size, eh.phoff, (uint64_t)eh.phnum * phsize)) < 0)
		return read_failed(ret, path, err, errlen);
	for (unsigned i = 0; i < eh.phnum; i++) {
		struct elf_kernel_phdr ph;
		elf_kernel_read_phdr(buf + eh.phoff + (uint64_t)i * phsize, is_64, &ph);
		if (ph.type != PT_NOTE)
			continue;
		if (ph.filesz > ELF_NOTES_MAX - notes) {
			err_printf(err, errlen, "%s: ELF note segments exceed %u KiB", path, ELF_NOTES_MAX >> 10);
			return -ENOEXEC;
		}
		notes += ph.filesz;
		if ((ret = read_range(fd, buf, size, ph.offset, ph.filesz)) < 0)
			return read_failed(ret, path, err, errlen);
	}
	return 0;
}

/* Read what the kernel file's format needs: an ELF sparsely (its fd stays
 * open for elf_load()), anything else whole. */
static int read_kernel_file(struct kernel_image *img, int fd, const char *path, char *err, size_t errlen)
{
	uint8_t magic[SELFMAG] = {0};
	int ret = read_range(fd, magic, img->size < SELFMAG ? img->size : SELFMAG, 0, SELFMAG);

	if (ret)
		return read_failed(ret, path, err, errlen);
	if (img->size < SELFMAG || memcmp(magic, ELFMAG, SELFMAG) != 0)
		return read_whole_file(fd, path, img->size, &img->data, err, errlen);
	void *buf = mmap(NULL, img->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (buf == MAP_FAILED) {
		err_printf(err, errlen, "%s: out of memory for %zu bytes of address space", path, img->size);
		return -ENOMEM;
	}
	img->data = buf;
	img->sparse = true;
	img->fd = fd;
	return read_elf_metadata(fd, img->data, img->size, path, err, errlen);
}

/* Recognise the format by its magic and run the matching parser. */
static int detect_and_parse(struct kernel_image *img, const char *path, char *err, size_t errlen)
{
	char why[256] = "";
	int ret;

	if (img->size >= SELFMAG && memcmp(img->data, ELFMAG, SELFMAG) == 0) {
		img->format = KERNEL_FORMAT_ELF;
		ret = elf_kernel_parse(img->data, img->size, &img->elf, why, sizeof(why));
	} else if (img->size >= 0x206 && memcmp(img->data + 0x202, "HdrS", 4) == 0) {
		img->format = KERNEL_FORMAT_BZIMAGE;
		ret = bzimage_parse(img->data, img->size, &img->bz, why, sizeof(why));
	} else {
		err_printf(err, errlen, "%s is not a Linux kernel (neither bzImage nor ELF)", path);
		return -ENOEXEC;
	}
	if (ret)
		err_printf(err, errlen, "%s: %s", path, why);
	return ret;
}

int kernel_image_open(const char *path, struct kernel_image *img, char *err, size_t errlen)
{
	struct stat st;
	int fd, ret;

	memset(img, 0, sizeof(*img));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		err_printf(err, errlen, "cannot open kernel %s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		err_printf(err, errlen, "cannot stat kernel %s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		err_printf(err, errlen, "kernel %s is a directory", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		err_printf(err, errlen, "kernel %s is not a regular file", path);
		goto out;
	}
	if (st.st_size == 0) {
		ret = -ENOEXEC;
		err_printf(err, errlen, "kernel %s is empty", path);
		goto out;
	}
	if ((unsigned long long)st.st_size > KERNEL_FILE_MAX) {
		ret = -EFBIG;
		err_printf(err, errlen, "kernel %s is %lld MiB; skiff refuses kernels over %llu MiB", path,
			(long long)(st.st_size >> 20), KERNEL_FILE_MAX >> 20);
		goto out;
	}
	img->size = (size_t)st.st_size;
	ret = read_kernel_file(img, fd, path, err, errlen);
	if (!ret)
		ret = detect_and_parse(img, path, err, errlen);
out:
	if (!img->sparse)
		close(fd);
	if (ret)
		kernel_image_close(img);
	return ret;
}

void kernel_image_close(struct kernel_image *img)
{
	if (img->sparse) {
		munmap(img->data, img->size);
		close(img->fd);
	} else {
		free(img->data);
	}
	memset(img, 0, sizeof(*img));
}

/* Decompress the payload and check that it is a bootable ELF64 vmlinux.
 * Fills *u (free u->data) and returns 0, or a negative errno with why. */
static int unpack_payload_elf(const struct bzimage_info *bz, const uint8_t *file, struct unpacked_kernel *u,
			      struct elf_kernel_info *elf, char *why, size_t whylen)
{
	char what[200];
	int ret;

	/* payload_offset/length are 2.08+ fields; bzimage_parse checked
	 * that they lie inside the protected-mode kernel. */
	if (bz->version < 0x0208 || bz->payload_length == 0) {
		err_printf(why, whylen, "setup header gives no payload (protocol %u.%02u, payload_length %u)",
			   bz->version >> 8, bz->version & 0xff, bz->payload_length);
		return -EPROTONOSUPPORT;
	}
	ret = payload_unpack(file + bz->kernel_offset + bz->payload_offset, bz->payload_length, KERNEL_FILE_MAX, u,
			     why, whylen);
	if (ret)
		return ret;
	ret = elf_kernel_parse(u->data, u->size, elf, what, sizeof(what));
	if (!ret && !(elf->is_64 && elf->entry64)) {
		snprintf(what, sizeof(what), "not a 64-bit kernel");
		ret = -ENOEXEC;
	}
	if (ret) {
		err_printf(why, whylen, "unpacked %s payload is not an ELF vmlinux: %s", payload_format_name(u->format),
			   what);
		free(u->data);
		u->data = NULL;
	}
	return ret;
}

int kernel_image_unpack(struct kernel_image *img)
{
	struct unpacked_kernel u;
	struct elf_kernel_info elf;
	char why[256];
	int64_t t0 = monotonic_ns();
	int ret;

	if (!img->data || img->format != KERNEL_FORMAT_BZIMAGE)
		return -EINVAL;
	ret = unpack_payload_elf(&img->bz, img->data, &u, &elf, why, sizeof(why));
	if (ret) {
		log_info("kernel", "cannot unpack the bzImage on the host (%s); the kernel decompresses itself in the guest",
			 why);
		return ret;
	}
	uint64_t us = (uint64_t)(monotonic_ns() - t0) / 1000;
	log_info("kernel", "unpacked the bzImage on the host: %s payload, %u -> %zu bytes, ELF vmlinux in %llu.%03llu s",
		 payload_format_name(u.format), img->bz.payload_length, u.size, (unsigned long long)(us / 1000000),
		 (unsigned long long)(us % 1000000 / 1000));
	free(img->data);
	img->data = u.data;
	img->size = u.size;
	img->format = KERNEL_FORMAT_ELF;
	img->elf = elf;
	img->unpacked = true;
	return 0;
}

/* Round x up to a power-of-two alignment; false if that overflows. */
static bool align_up(uint64_t x, uint64_t align, uint64_t *out)
{
	if (x > UINT64_MAX - (align - 1))
		return false;
	*out = (x + align - 1) & ~(align - 1);
	return true;
}

/* Can the kernel use [addr, addr+span)? It must be RAM in one region,
 * above the low-memory boot structures and below 4 GiB (code32_start
 * and the 32-bit header fields cannot describe anything higher). */
static bool kernel_range_ok(const struct guest_mem *mem, uint64_t addr, uint64_t span)
{
	return addr >= LAYOUT_HIGH_RAM && addr < LAYOUT_4G && span <= LAYOUT_4G - addr &&
	       guest_mem_ptr(mem, addr, span) != NULL;
}

/* Pick where the protected-mode kernel goes; see the rule in the header. */
static int bzimage_choose_address(const struct bzimage_info *bz, const struct guest_mem *mem, uint64_t span,
				  uint64_t *addr, char *err, size_t errlen)
{
	uint64_t want = bz->pref_address;

	if (bz->relocatable) {
		if (!want)
			want = LAYOUT_KERNEL_DEFAULT;
		if (align_up(want, bz->kernel_alignment, addr) && kernel_range_ok(mem, *addr, span))
			return 0;
		if (align_up(LAYOUT_HIGH_RAM, bz->kernel_alignment, addr) && kernel_range_ok(mem, *addr, span))
			return 0;
	} else if (kernel_range_ok(mem, want, span)) {
		*addr = want;
		return 0;
	}
	err_printf(err, errlen, "kernel needs %llu MiB (init_size) at 0x%llx, which is not in guest RAM; use --mem larger",
		(unsigned long long)((span + (1 << 20) - 1) >> 20), (unsigned long long)want);
	return -ENOMEM;
}

static int bzimage_load(const struct kernel_image *img, struct guest_mem *mem, struct kernel_entry *entry,
			char *err, size_t errlen)
{
	const struct bzimage_info *bz = &img->bz;
	uint64_t span = bz->init_size > bz->kernel_size ? bz->init_size : bz->kernel_size;
	uint64_t addr;
	int ret;

	ret = bzimage_choose_address(bz, mem, span, &addr, err, errlen);
	if (ret)
		return ret;
	if (!guest_mem_write(mem, addr, img->data + bz->kernel_offset, bz->kernel_size)) {
		err_printf(err, errlen, "kernel does not fit in guest RAM at 0x%llx", (unsigned long long)addr);
		return -ENOMEM;
	}

	entry->mode = ENTRY_LINUX64;
	entry->rip = addr + BZIMAGE_ENTRY64_OFFSET;
	entry->boot_info = LAYOUT_BOOT_PARAMS;
	entry->start = addr;
	entry->end = addr + span;
	entry->initrd_addr_max = bz->initrd_addr_max;
	entry->has_setup_header = true;
	entry->hdr = bz->hdr;
	entry->hdr.code32_start = (uint32_t)addr; /* where we put it (2.05+ relocatable rule) */
	entry->hdr.type_of_loader = 0xff;         /* "undefined" boot loader ID */
	log_debug("kernel", "bzImage protocol %u.%02u at 0x%llx-0x%llx, entry 0x%llx", bz->version >> 8,
		  bz->version & 0xff, (unsigned long long)entry->start, (unsigned long long)entry->end,
		  (unsigned long long)entry->rip);
	return 0;
}

static int elf_load(const struct kernel_image *img, struct guest_mem *mem, struct kernel_entry *entry, char *err,
		    size_t errlen)
{
	const struct elf_kernel_info *elf = &img->elf;

	if (elf->is_64 && elf->entry64) {
		entry->mode = ENTRY_LINUX64;
		entry->rip = elf->entry64;
	} else if (elf->pvh_entry) {
		entry->mode = ENTRY_PVH32;
		entry->rip = elf->pvh_entry;
	} else {
		err_printf(err, errlen, "32-bit ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); skiff cannot enter it");
		return -ENOEXEC;
	}

	/* Check every segment before writing any, so a failure leaves
	 * guest memory untouched. */
	for (unsigned i = 0; i < elf->nr_segments; i++) {
		const struct elf_segment *s = &elf->seg[i];
		if (s->paddr < LAYOUT_HIGH_RAM) {
			err_printf(err, errlen, "ELF segment at 0x%llx is below 1 MiB, where skiff keeps its boot structures",
				(unsigned long long)s->paddr);
			return -EINVAL;
		}
		if (!guest_mem_ptr(mem, s->paddr, s->memsz)) {
			err_printf(err, errlen, "ELF segment [0x%llx, 0x%llx) does not fit in guest RAM; use --mem larger",
				(unsigned long long)s->paddr, (unsigned long long)(s->paddr + s->memsz));
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < elf->nr_segments; i++) {
		const struct elf_segment *s = &elf->seg[i];
		uint8_t *dst = guest_mem_ptr(mem, s->paddr, s->memsz);
		if (img->sparse) {
			int ret = pread_full(img->fd, dst, s->filesz, s->offset);
			if (ret < 0) {
				err_printf(err, errlen, "ELF segment %u: read failed: %s", i,
					   ret == -EIO ? "the kernel file shrank" : strerror(-ret));
				return ret;
			}
		} else {
			memcpy(dst, img->data + s->offset, s->filesz);
		}
		zero_guest_bytes(dst + s->filesz, s->memsz - s->filesz); /* bss */
	}

	entry->boot_info = LAYOUT_BOOT_PARAMS;
	entry->start = elf->start;
	entry->end = elf->end;
	entry->initrd_addr_max = KERNEL_DEFAULT_INITRD_ADDR_MAX;
	entry->has_setup_header = false;
	if (img->unpacked) {
		/* The kernel's own header still describes it (version,
		 * cmdline_size, initrd_addr_max, ...). KASLR_FLAG would claim
		 * a decompressor randomized the kernel: none ran. */
		entry->has_setup_header = true;
		entry->hdr = img->bz.hdr;
		entry->hdr.code32_start = (uint32_t)elf->start;
		entry->hdr.type_of_loader = 0xff;
		entry->hdr.loadflags &= (uint8_t)~KASLR_FLAG;
		entry->initrd_addr_max = img->bz.initrd_addr_max;
	}
	log_debug("kernel", "ELF%d kernel at 0x%llx-0x%llx, %s entry 0x%llx", elf->is_64 ? 64 : 32,
		  (unsigned long long)entry->start, (unsigned long long)entry->end,
		  entry->mode == ENTRY_PVH32 ? "PVH" : "64-bit", (unsigned long long)entry->rip);
	return 0;
}

int kernel_image_load(const struct kernel_image *img, struct guest_mem *mem, struct kernel_entry *entry,
		      char *err, size_t errlen)
{
	memset(entry, 0, sizeof(*entry));
	if (!img->data) {
		err_printf(err, errlen, "no kernel image opened");
		return -EINVAL;
	}
	if (img->format == KERNEL_FORMAT_BZIMAGE)
		return bzimage_load(img, mem, entry, err, errlen);
	return elf_load(img, mem, entry, err, errlen);
}
