/* SPDX-License-Identifier: MIT */
/*
 * A thin SQLite VFS over the default one that coalesces writes to the WAL
 * (see store-sqlite-private.h: sqlite_vfs_register).
 *
 * SQLite appends a commit to the WAL as two pwrite() calls per page (the
 * 24-byte frame header, then the page), all contiguous, and then fsyncs.
 * A 5 KB delivery touches about ten pages, so a batch of deliveries cost
 * about twenty system calls per message before its one fsync; on a virtual
 * machine a system call costs a microsecond or more. Here consecutive
 * appends are gathered in a buffer and written with one pwrite() when
 * SQLite next does anything else with the file (sync, read, size,
 * truncate, lock, close) or when the run is no longer contiguous.
 *
 * Why this is safe: nothing but this connection looks at WAL frames before
 * the commit that publishes them, and SQLite publishes a commit (the
 * wal-index header in shared memory) only after the WAL's xSync, which
 * flushes first (and the shared-memory barrier before the header is
 * written flushes too). Reads by this connection flush first too. A
 * failed flush is reported by the call that caused it (a failed xSync
 * fails the commit, which is then rolled back and the callers get a 4xx).
 * Frames of a transaction that is rolled back (SQLite spills pages of a
 * large transaction into the WAL before its commit) are dropped when the
 * connection releases the WAL write lock, and at close: written later
 * they would land on frames another writer committed meanwhile at the
 * same offsets (found in review and reproduced: integrity_check errors;
 * test-store test_vfs_rollback).
 * Only files opened as SQLITE_OPEN_WAL are buffered; the database file,
 * journals and temporary files pass straight through.
 *
 * Reads of the WAL come from a shared read-only mapping of it, one per
 * WAL file and process, instead of a pread() each. A commit by any other
 * connection makes SQLite drop a connection's whole page cache at its
 * next transaction, so every page a transaction touches is read again,
 * and the hot ones (the queue's and the blobs' tree pages) live in the
 * WAL: about four pread() calls per relayed message in each of the SMTP
 * worker and the queue runner (bench/outbound). SQLite reads only frames
 * that its wal-index names, all written before the index was published,
 * but a mapping must never be touched past the file's end (SIGBUS): the
 * size the process last saw (a commit of its own, or an fstat when a read
 * goes past it, one per new run of the other processes' frames) bounds
 * what is read from the mapping; anything past it, or past the mapping,
 * is read as before.
 */
#include "store/store-sqlite-private.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define VFS_NAME "herald"
/* The unix VFS writes at most 128 KiB - 1 per call (it masks the length
 * with 0x1ffff and reports a short write as a full disk), so a flush must
 * stay below that: 31 pages of 4 KiB, with their frame headers. */
#define WAL_BUF_SIZE (124 * 1024)
/* Address space reserved for each WAL's mapping: the WAL restarts at its
 * start after a checkpoint (every 4,000 pages, about 16 MiB), so it grows
 * past this only while a reader holds a checkpoint back; reads past it
 * use pread(). Only pages read count in the resident size, once per
 * process however many connections read them. */
#define WAL_MAP_LEN ((size_t)256 << 20)

/* A WAL file's mapping, shared by the process's connections to it. */
struct wal_map {
	struct wal_map *next;
	dev_t dev;
	ino_t ino;
	const unsigned char *base;
	unsigned refs;			/* under map_lock */
	/* the file is at least this long: reads below it may use base */
	_Atomic uint64_t size;
};

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wal_map *maps;

struct hfile {
	sqlite3_file base;	/* our methods */
	unsigned char *buf;	/* WAL only: pending appends */
	size_t len;
	sqlite3_int64 start;	/* file offset of buf[0] */
	/* A WAL file and its database file know each other: the WAL write
	 * lock and the shared-memory barrier are calls on the database
	 * file, and they decide what happens to the WAL's buffer. */
	struct hfile *wal;	/* database file: its WAL, when open */
	struct hfile *db;	/* WAL file: its database file */
	sqlite3_file *real;	/* the default VFS's file, right after us */
	struct wal_map *map;	/* WAL only: its mapping, or NULL */
	bool is_wal;
};

static sqlite3_vfs *base_vfs;
static __thread uint64_t wal_syncs;
static __thread uint64_t wal_map_reads;
static sqlite3_vfs herald_vfs;
static sqlite3_io_methods herald_io;

/* The file is now known to be at least end bytes long. */
static void
map_grown(struct wal_map *m, uint64_t end)
{
	uint64_t cur;

	if (m == NULL)
		return;
	cur = atomic_load_explicit(&m->size, memory_order_relaxed);
	while (cur < end &&
	       !atomic_compare_exchange_weak_explicit(&m->size, &cur, end,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

/* The mapping of the WAL file called name, made or shared; NULL when it
 * cannot be had (the file is then read with pread as before). */
static struct wal_map *
map_get(const char *name)
{
	struct wal_map *m = NULL;
	struct stat st;
	void *base;
	int fd;

	if (sizeof(void *) < 8 || name == NULL)
		return NULL;
	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	pthread_mutex_lock(&map_lock);
	for (m = maps; m != NULL; m = m->next)
		if (m->dev == st.st_dev && m->ino == st.st_ino)
			break;
	if (m != NULL) {
		m->refs++;
	} else {
		base = mmap(NULL, WAL_MAP_LEN, PROT_READ, MAP_SHARED, fd, 0);
		if (base != MAP_FAILED) {
			m = calloc(1, sizeof(*m));
			if (m == NULL) {
				munmap(base, WAL_MAP_LEN);
			} else {
				m->dev = st.st_dev;
				m->ino = st.st_ino;
				m->base = base;
				m->refs = 1;
				atomic_init(&m->size, (uint64_t)st.st_size);
				m->next = maps;
				maps = m;
			}
		}
	}
	pthread_mutex_unlock(&map_lock);
	close(fd);
	return m;
}

static void
map_put(struct wal_map **mp)
{
	struct wal_map *m = *mp, **pp;

	if (m == NULL)
		return;
	*mp = NULL;
	pthread_mutex_lock(&map_lock);
	if (--m->refs == 0) {
		for (pp = &maps; *pp != m; pp = &(*pp)->next)
			;
		*pp = m->next;
		munmap((void *)m->base, WAL_MAP_LEN);
		free(m);
	}
	pthread_mutex_unlock(&map_lock);
}

static int
flush(struct hfile *f)
{
	int rc;

	if (f->len == 0)
		return SQLITE_OK;
	rc = f->real->pMethods->xWrite(f->real, f->buf, (int)f->len, f->start);
	if (rc == SQLITE_OK)
		map_grown(f->map, (uint64_t)f->start + f->len);
	f->len = 0;
	return rc;
}

static int
x_close(sqlite3_file *file)
{
	struct hfile *f = (struct hfile *)file;
	int rc = f->real->pMethods->xClose(f->real);

	/* Whatever is still buffered was never committed (a commit syncs,
	 * which flushes): it must not reach the file. */
	f->len = 0;
	free(f->buf);
	f->buf = NULL;
	map_put(&f->map);
	if (f->db != NULL)
		f->db->wal = NULL;
	if (f->wal != NULL)
		f->wal->db = NULL;
	f->db = f->wal = NULL;
	return rc;
}

static int
x_read(sqlite3_file *file, void *out, int amt, sqlite3_int64 off)
{
	struct hfile *f = (struct hfile *)file;

	if (flush(f) != SQLITE_OK)
		return SQLITE_IOERR_READ;
	if (f->map != NULL && off >= 0 && amt > 0 &&
	    (uint64_t)off + (uint64_t)amt <= WAL_MAP_LEN) {
		uint64_t end = (uint64_t)off + (uint64_t)amt;
		sqlite3_int64 size;

		if (end > atomic_load_explicit(&f->map->size,
					       memory_order_relaxed) &&
		    f->real->pMethods->xFileSize(f->real, &size) ==
		    SQLITE_OK && size > 0)
			map_grown(f->map, (uint64_t)size);
		if (end <= atomic_load_explicit(&f->map->size,
						memory_order_relaxed)) {
			memcpy(out, f->map->base + off, (size_t)amt);
			wal_map_reads++;
			return SQLITE_OK;
		}
	}
	return f->real->pMethods->xRead(f->real, out, amt, off);
}

static int
x_write(sqlite3_file *file, const void *data, int amt, sqlite3_int64 off)
{
	struct hfile *f = (struct hfile *)file;
	int rc;

	if (f->buf == NULL) {
		rc = f->real->pMethods->xWrite(f->real, data, amt, off);
		if (rc == SQLITE_OK)
			map_grown(f->map, (uint64_t)off + (uint64_t)amt);
		return rc;
	}
	if (f->len > 0 &&
	    (off != f->start + (sqlite3_int64)f->len ||
	     f->len + (size_t)amt > WAL_BUF_SIZE)) {
		rc = flush(f);
		if (rc != SQLITE_OK)
			return rc;
	}
	if ((size_t)amt > WAL_BUF_SIZE) {
		rc = f->real->pMethods->xWrite(f->real, data, amt, off);
		if (rc == SQLITE_OK)
			map_grown(f->map, (uint64_t)off + (uint64_t)amt);
		return rc;
	}
	if (f->len == 0)
		f->start = off;
	memcpy(f->buf + f->len, data, (size_t)amt);
	f->len += (size_t)amt;
	return SQLITE_OK;
}

static int
x_truncate(sqlite3_file *file, sqlite3_int64 size)
{
	struct hfile *f = (struct hfile *)file;
	int rc = flush(f);

	if (rc != SQLITE_OK)
		return rc;
	/* shorter now: nothing past size may be read from the mapping (set
	 * before the cut, so no read of this process goes past the end) */
	if (f->map != NULL && size >= 0 &&
	    (uint64_t)size < atomic_load(&f->map->size))
		atomic_store(&f->map->size, (uint64_t)size);
	return f->real->pMethods->xTruncate(f->real, size);
}

static int
x_sync(sqlite3_file *file, int flags)
{
	struct hfile *f = (struct hfile *)file;
	int rc = flush(f);

	if (rc == SQLITE_OK)
		rc = f->real->pMethods->xSync(f->real, flags);
	if (rc == SQLITE_OK && f->is_wal)
		wal_syncs++;
	return rc;
}

uint64_t
sqlite_vfs_wal_syncs(void)
{
	return wal_syncs;
}

uint64_t
sqlite_vfs_wal_map_reads(void)
{
	return wal_map_reads;
}

int
sqlite_vfs_sync_wal(sqlite3 *db)
{
	sqlite3_file *wal = NULL;
	int rc = sqlite3_file_control(db, "main",
				      SQLITE_FCNTL_JOURNAL_POINTER, &wal);

	/* no WAL open: nothing was written that a sync could keep */
	if (rc != SQLITE_OK || wal == NULL || wal->pMethods == NULL)
		return rc;
	return wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
}

static int
x_file_size(sqlite3_file *file, sqlite3_int64 *size_r)
{
	struct hfile *f = (struct hfile *)file;
	int rc = flush(f);

	if (rc == SQLITE_OK)
		rc = f->real->pMethods->xFileSize(f->real, size_r);
	if (rc == SQLITE_OK && *size_r > 0)
		map_grown(f->map, (uint64_t)*size_r);
	return rc;
}

static int
x_lock(sqlite3_file *file, int level)
{
	struct hfile *f = (struct hfile *)file;
	int rc = flush(f);

	return rc != SQLITE_OK ? rc : f->real->pMethods->xLock(f->real, level);
}

static int
x_unlock(sqlite3_file *file, int level)
{
	struct hfile *f = (struct hfile *)file;
	int rc = flush(f);

	return rc != SQLITE_OK ? rc :
	       f->real->pMethods->xUnlock(f->real, level);
}

static int
x_check_reserved(sqlite3_file *file, int *out)
{
	struct hfile *f = (struct hfile *)file;

	return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int
x_file_control(sqlite3_file *file, int op, void *arg)
{
	struct hfile *f = (struct hfile *)file;
	int rc = flush(f);

	return rc != SQLITE_OK ? rc :
	       f->real->pMethods->xFileControl(f->real, op, arg);
}

static int
x_sector_size(sqlite3_file *file)
{
	struct hfile *f = (struct hfile *)file;

	return f->real->pMethods->xSectorSize(f->real);
}

static int
x_device_characteristics(sqlite3_file *file)
{
	struct hfile *f = (struct hfile *)file;

	return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int
x_shm_map(sqlite3_file *file, int region, int size, int extend,
	  void volatile **p)
{
	struct hfile *f = (struct hfile *)file;

	return f->real->pMethods->xShmMap(f->real, region, size, extend, p);
}

/* Slot 0 of the shared-memory locks is the WAL write lock (SQLite's
 * WAL_WRITE_LOCK, file format "WAL-index"). */
#define WAL_WRITE_LOCK_SLOT 0

static int
x_shm_lock(sqlite3_file *file, int offset, int n, int flags)
{
	struct hfile *f = (struct hfile *)file;

	/* The writer gives up the WAL: a commit has flushed its frames at
	 * its sync, so what is left are frames of a transaction that was
	 * rolled back. Another writer may now append at those offsets;
	 * writing ours later would overwrite its committed frames. */
	if ((flags & SQLITE_SHM_UNLOCK) && f->wal != NULL &&
	    offset <= WAL_WRITE_LOCK_SLOT && offset + n > WAL_WRITE_LOCK_SLOT)
		f->wal->len = 0;
	return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void
x_shm_barrier(sqlite3_file *file)
{
	struct hfile *f = (struct hfile *)file;

	/* Before SQLite publishes a wal-index header, every frame it names
	 * must be in the file (normally the sync at commit flushed them). */
	if (f->wal != NULL)
		(void)flush(f->wal);
	f->real->pMethods->xShmBarrier(f->real);
}

static int
x_shm_unmap(sqlite3_file *file, int delete_flag)
{
	struct hfile *f = (struct hfile *)file;

	return f->real->pMethods->xShmUnmap(f->real, delete_flag);
}

static int
x_fetch(sqlite3_file *file, sqlite3_int64 off, int amt, void **p)
{
	struct hfile *f = (struct hfile *)file;
	int rc = flush(f);

	return rc != SQLITE_OK ? rc :
	       f->real->pMethods->xFetch(f->real, off, amt, p);
}

static int
x_unfetch(sqlite3_file *file, sqlite3_int64 off, void *p)
{
	struct hfile *f = (struct hfile *)file;

	return f->real->pMethods->xUnfetch(f->real, off, p);
}

static int
x_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags,
       int *out_flags)
{
	struct hfile *f = (struct hfile *)file;
	int rc;

	(void)vfs;
	memset(f, 0, sizeof(*f));
	f->real = (sqlite3_file *)(f + 1);
	rc = base_vfs->xOpen(base_vfs, name, f->real, flags, out_flags);
	if (rc != SQLITE_OK) {
		/* SQLite calls xClose only when pMethods is set; the real
		 * file's own methods clean up after a failed open. */
		if (f->real->pMethods != NULL)
			f->real->pMethods->xClose(f->real);
		f->base.pMethods = NULL;
		return rc;
	}
	if (flags & SQLITE_OPEN_WAL) {
		sqlite3_file *dbf = sqlite3_database_file_object(name);

		f->is_wal = true;
		f->map = map_get(name);
		/* Buffered only when linked to its database file, whose lock
		 * calls drop uncommitted frames; otherwise the file simply
		 * passes through. */
		if (dbf != NULL && dbf->pMethods == &herald_io) {
			f->db = (struct hfile *)dbf;
			f->buf = malloc(WAL_BUF_SIZE);
			if (f->buf != NULL)
				f->db->wal = f;
			else
				f->db = NULL;
		}
	}
	f->base.pMethods = &herald_io;
	return SQLITE_OK;
}

/* The rest of the VFS is the default one's. */
static int
x_delete(sqlite3_vfs *v, const char *name, int sync_dir)
{
	(void)v;
	return base_vfs->xDelete(base_vfs, name, sync_dir);
}

static int
x_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return base_vfs->xAccess(base_vfs, name, flags, out);
}

static int
x_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return base_vfs->xFullPathname(base_vfs, name, n, out);
}

static void *
x_dl_open(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return base_vfs->xDlOpen(base_vfs, name);
}

static void
x_dl_error(sqlite3_vfs *v, int n, char *msg)
{
	(void)v;
	base_vfs->xDlError(base_vfs, n, msg);
}

static void (*x_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	(void)v;
	return base_vfs->xDlSym(base_vfs, h, sym);
}

static void
x_dl_close(sqlite3_vfs *v, void *h)
{
	(void)v;
	base_vfs->xDlClose(base_vfs, h);
}

static int
x_randomness(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return base_vfs->xRandomness(base_vfs, n, out);
}

static int
x_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return base_vfs->xSleep(base_vfs, us);
}

static int
x_current_time(sqlite3_vfs *v, double *out)
{
	(void)v;
	return base_vfs->xCurrentTime(base_vfs, out);
}

static int
x_get_last_error(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return base_vfs->xGetLastError(base_vfs, n, out);
}

static int
x_current_time_int64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	(void)v;
	return base_vfs->xCurrentTimeInt64(base_vfs, out);
}

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int register_rc = SQLITE_ERROR;

static void
register_vfs(void)
{
	/* Before SQLite initialises (the vfs lookup does): no global memory
	 * statistics, which take a process-wide mutex around every
	 * allocation SQLite makes; nothing here reads them. Fails harmlessly
	 * (SQLITE_MISUSE) when the process already initialised SQLite. */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	base_vfs = sqlite3_vfs_find(NULL);
	if (base_vfs == NULL || base_vfs->iVersion < 2)
		return;
	herald_io = (sqlite3_io_methods){
		.iVersion = 3,
		.xClose = x_close,
		.xRead = x_read,
		.xWrite = x_write,
		.xTruncate = x_truncate,
		.xSync = x_sync,
		.xFileSize = x_file_size,
		.xLock = x_lock,
		.xUnlock = x_unlock,
		.xCheckReservedLock = x_check_reserved,
		.xFileControl = x_file_control,
		.xSectorSize = x_sector_size,
		.xDeviceCharacteristics = x_device_characteristics,
		.xShmMap = x_shm_map,
		.xShmLock = x_shm_lock,
		.xShmBarrier = x_shm_barrier,
		.xShmUnmap = x_shm_unmap,
		.xFetch = x_fetch,
		.xUnfetch = x_unfetch,
	};
	herald_vfs = (sqlite3_vfs){
		.iVersion = 2,
		.szOsFile = (int)sizeof(struct hfile) + base_vfs->szOsFile,
		.mxPathname = base_vfs->mxPathname,
		.zName = VFS_NAME,
		.xOpen = x_open,
		.xDelete = x_delete,
		.xAccess = x_access,
		.xFullPathname = x_full_pathname,
		.xDlOpen = x_dl_open,
		.xDlError = x_dl_error,
		.xDlSym = x_dl_sym,
		.xDlClose = x_dl_close,
		.xRandomness = x_randomness,
		.xSleep = x_sleep,
		.xCurrentTime = x_current_time,
		.xGetLastError = x_get_last_error,
		.xCurrentTimeInt64 = x_current_time_int64,
	};
	register_rc = sqlite3_vfs_register(&herald_vfs, 0);
}

const char *
sqlite_vfs_name(void)
{
	pthread_once(&register_once, register_vfs);
	return register_rc == SQLITE_OK ? VFS_NAME : NULL;
}
