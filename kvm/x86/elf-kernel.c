/* ELF kernel validation. The file is untrusted: every offset and size is
 * checked against the file length with subtraction (never "a + b > len",
 * which can wrap), and program headers and notes are copied out with
 * memcpy, so misaligned offsets are harmless. */
#include "kvm/x86/elf-kernel.h"
#include "base/log.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* Does [off, off+size) lie inside a buffer of len bytes? */
static bool range_in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

void elf_kernel_read_ehdr(const uint8_t *buf, bool is_64, struct elf_kernel_ehdr *out)
{
	if (is_64) {
		Elf64_Ehdr eh;
		memcpy(&eh, buf, sizeof(eh));
		*out = (struct elf_kernel_ehdr){ eh.e_type, eh.e_machine, eh.e_phentsize, eh.e_phnum, eh.e_phoff, eh.e_entry };
	} else {
		Elf32_Ehdr eh;
		memcpy(&eh, buf, sizeof(eh));
		*out = (struct elf_kernel_ehdr){ eh.e_type, eh.e_machine, eh.e_phentsize, eh.e_phnum, eh.e_phoff, eh.e_entry };
	}
}

void elf_kernel_read_phdr(const uint8_t *p, bool is_64, struct elf_kernel_phdr *out)
{
	if (is_64) {
		Elf64_Phdr ph;
		memcpy(&ph, p, sizeof(ph));
		*out = (struct elf_kernel_phdr){ ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz, ph.p_align };
	} else {
		Elf32_Phdr ph;
		memcpy(&ph, p, sizeof(ph));
		*out = (struct elf_kernel_phdr){ ph.p_type, ph.p_offset, ph.p_paddr, ph.p_filesz, ph.p_memsz, ph.p_align };
	}
}

/* e_ident, type and machine: is this an x86 ELF executable? */
static int check_ehdr(const uint8_t *buf, size_t len, struct elf_kernel_info *info, uint64_t *phoff,
		      unsigned *phnum, char *err, size_t errlen)
{
	unsigned type, machine, phentsize;

	if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0) {
		err_printf(err, errlen, "not an ELF file: missing \\x7fELF magic");
		return -ENOEXEC;
	}
	if (buf[EI_CLASS] != ELFCLASS32 && buf[EI_CLASS] != ELFCLASS64) {
		err_printf(err, errlen, "ELF class %u is neither 32- nor 64-bit", buf[EI_CLASS]);
		return -ENOEXEC;
	}
	if (buf[EI_DATA] != ELFDATA2LSB) {
		err_printf(err, errlen, "ELF data encoding %u is not little-endian", buf[EI_DATA]);
		return -ENOEXEC;
	}
	if (buf[EI_VERSION] != EV_CURRENT) {
		err_printf(err, errlen, "ELF ident version %u is not 1", buf[EI_VERSION]);
		return -ENOEXEC;
	}
	info->is_64 = buf[EI_CLASS] == ELFCLASS64;

	size_t ehdr_size = info->is_64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phdr_size = info->is_64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if (len < ehdr_size) {
		err_printf(err, errlen, "ELF truncated: header needs %zu bytes, file has %zu", ehdr_size, len);
		return -ENOEXEC;
	}
	struct elf_kernel_ehdr eh;
	elf_kernel_read_ehdr(buf, info->is_64, &eh);
	type = eh.type, machine = eh.machine, phentsize = eh.phentsize;
	*phnum = eh.phnum, *phoff = eh.phoff, info->e_entry = eh.entry;

	if (type != ET_EXEC) {
		err_printf(err, errlen, "ELF type %u is not ET_EXEC (an executable kernel)", type);
		return -ENOEXEC;
	}
	if (info->is_64 && machine != EM_X86_64) {
		err_printf(err, errlen, "ELF64 machine %u is not x86-64 (%u)", machine, EM_X86_64);
		return -ENOEXEC;
	}
	if (!info->is_64 && machine != EM_386) {
		err_printf(err, errlen, "ELF32 machine %u is not i386 (%u)", machine, EM_386);
		return -ENOEXEC;
	}
	if (*phnum == 0 || *phnum == PN_XNUM) {
		err_printf(err, errlen, "ELF has no usable program headers (e_phnum %u)", *phnum);
		return -ENOEXEC;
	}
	if (phentsize != phdr_size) {
		err_printf(err, errlen, "ELF program header size %u, expected %zu", phentsize, phdr_size);
		return -ENOEXEC;
	}
	/* phnum and phentsize are 16-bit: their product cannot overflow. */
	if (!range_in_file(*phoff, (uint64_t)*phnum * phentsize, len)) {
		err_printf(err, errlen, "ELF program headers (%u at offset 0x%llx) run past the end of the file (%zu bytes)",
			*phnum, (unsigned long long)*phoff, len);
		return -ENOEXEC;
	}
	return 0;
}

/* Walk the notes of one PT_NOTE segment looking for the PVH entry.
 * Each note: namesz, descsz, type (4 bytes each), then name and desc,
 * each padded to the segment's note alignment (4, or 8 if p_align is 8). */
static int scan_notes(const uint8_t *p, uint64_t size, uint64_t align, unsigned index, uint64_t *pvh_entry,
		      char *err, size_t errlen)
{
	uint64_t pos = 0;

	while (size - pos >= 12) {
		uint32_t namesz = get_le32(p + pos);
		uint32_t descsz = get_le32(p + pos + 4);
		uint32_t type = get_le32(p + pos + 8);
		pos += 12;

		if (namesz > size - pos) {
			err_printf(err, errlen, "ELF note in segment %u: namesz %u runs past the end of the PT_NOTE segment",
				index, namesz);
			return -ENOEXEC;
		}
		const uint8_t *name = p + pos;
		uint64_t padded = ((uint64_t)namesz + align - 1) & ~(align - 1);
		pos += padded < size - pos ? padded : size - pos;

		if (descsz > size - pos) {
			err_printf(err, errlen, "ELF note in segment %u: descsz %u runs past the end of the PT_NOTE segment",
				index, descsz);
			return -ENOEXEC;
		}
		const uint8_t *desc = p + pos;
		padded = ((uint64_t)descsz + align - 1) & ~(align - 1);
		pos += padded < size - pos ? padded : size - pos;

		if (type != XEN_ELFNOTE_PHYS32_ENTRY || namesz != sizeof(ELF_NOTE_XEN_NAME) ||
		    memcmp(name, ELF_NOTE_XEN_NAME, sizeof(ELF_NOTE_XEN_NAME)) != 0 || *pvh_entry)
			continue;

		/* The kernel emits it with _ASM_PTR: 4 bytes on i386, 8 on x86-64. */
		uint64_t entry;
		if (descsz == 4)
			entry = get_le32(desc);
		else if (descsz == 8)
			entry = get_le64(desc);
		else {
			err_printf(err, errlen, "ELF PVH entry note has descsz %u, expected 4 or 8", descsz);
			return -ENOEXEC;
		}
		if (entry == 0 || entry > UINT32_MAX) {
			err_printf(err, errlen, "ELF PVH entry 0x%llx is not a nonzero 32-bit address",
				(unsigned long long)entry);
			return -ENOEXEC;
		}
		*pvh_entry = entry;
	}
	return 0;
}

static int add_load_segment(const struct elf_kernel_phdr *ph, unsigned index, size_t len, struct elf_kernel_info *info,
			    char *err, size_t errlen)
{
	if (!range_in_file(ph->offset, ph->filesz, len)) {
		err_printf(err, errlen, "ELF segment %u: file range 0x%llx+0x%llx runs past the end of the file (%zu bytes)",
			index, (unsigned long long)ph->offset, (unsigned long long)ph->filesz, len);
		return -ENOEXEC;
	}
	if (ph->filesz > ph->memsz) {
		err_printf(err, errlen, "ELF segment %u: filesz 0x%llx is larger than memsz 0x%llx", index,
			(unsigned long long)ph->filesz, (unsigned long long)ph->memsz);
		return -ENOEXEC;
	}
	if (ph->memsz > UINT64_MAX - ph->paddr) {
		err_printf(err, errlen, "ELF segment %u: paddr 0x%llx + memsz 0x%llx overflows", index,
			(unsigned long long)ph->paddr, (unsigned long long)ph->memsz);
		return -ENOEXEC;
	}
	if (ph->memsz == 0)
		return 0;
	if (info->nr_segments == ELF_KERNEL_MAX_SEGMENTS) {
		err_printf(err, errlen, "ELF has more than %d loadable segments", ELF_KERNEL_MAX_SEGMENTS);
		return -ENOEXEC;
	}

	struct elf_segment *s = &info->seg[info->nr_segments++];
	*s = (struct elf_segment){ ph->offset, ph->filesz, ph->paddr, ph->memsz };
	if (info->nr_segments == 1 || s->paddr < info->start)
		info->start = s->paddr;
	if (s->paddr + s->memsz > info->end)
		info->end = s->paddr + s->memsz;
	return 0;
}

/* An entry point must be code that is actually loaded from the file. */
static bool entry_in_segments(const struct elf_kernel_info *info, uint64_t entry)
{
	for (unsigned i = 0; i < info->nr_segments; i++) {
		const struct elf_segment *s = &info->seg[i];
		if (entry >= s->paddr && entry - s->paddr < s->filesz)
			return true;
	}
	return false;
}

int elf_kernel_parse(const uint8_t *buf, size_t len, struct elf_kernel_info *info, char *err, size_t errlen)
{
	uint64_t phoff;
	unsigned phnum;
	int ret;

	memset(info, 0, sizeof(*info));
	if (!buf)
		len = 0;
	ret = check_ehdr(buf, len, info, &phoff, &phnum, err, errlen);
	if (ret)
		goto fail;

	size_t phdr_size = info->is_64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	for (unsigned i = 0; i < phnum; i++) {
		struct elf_kernel_phdr ph;

		elf_kernel_read_phdr(buf + phoff + (uint64_t)i * phdr_size, info->is_64, &ph);
		if (ph.type == PT_LOAD) {
			ret = add_load_segment(&ph, i, len, info, err, errlen);
		} else if (ph.type == PT_NOTE) {
			if (!range_in_file(ph.offset, ph.filesz, len)) {
				err_printf(err, errlen, "ELF note segment %u runs past the end of the file", i);
				ret = -ENOEXEC;
			} else {
				ret = scan_notes(buf + ph.offset, ph.filesz, ph.align == 8 ? 8 : 4, i, &info->pvh_entry,
						 err, errlen);
			}
		}
		if (ret)
			goto fail;
	}

	if (info->nr_segments == 0) {
		err_printf(err, errlen, "ELF has no loadable segments");
		ret = -ENOEXEC;
		goto fail;
	}
	/* x86-64 vmlinux: ENTRY(phys_startup_64), so e_entry is physical. */
	if (info->is_64) {
		if (!entry_in_segments(info, info->e_entry)) {
			err_printf(err, errlen, "ELF entry point 0x%llx is not inside any loaded segment",
				(unsigned long long)info->e_entry);
			ret = -ENOEXEC;
			goto fail;
		}
		info->entry64 = info->e_entry;
	}
	if (info->pvh_entry && !entry_in_segments(info, info->pvh_entry)) {
		err_printf(err, errlen, "ELF PVH entry 0x%llx is not inside any loaded segment",
			(unsigned long long)info->pvh_entry);
		ret = -ENOEXEC;
		goto fail;
	}
	return 0;

fail:
	memset(info, 0, sizeof(*info));
	return ret;
}
