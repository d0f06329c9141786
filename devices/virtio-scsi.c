/* virtio-scsi: the controller. Requests are parsed from the guest's
 * chains and handed to the emulated disks. See virtio-scsi.h. */
#include "devices/virtio-scsi.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_ids.h>

#include "base/log.h"

#define REQ_FIXED  offsetof(struct virtio_scsi_cmd_req, cdb)    /* 19: lun, tag, attr, prio, crn */
#define RESP_FIXED offsetof(struct virtio_scsi_cmd_resp, sense) /* 12: sense_len .. response */
#define TMF_FUNCTION_COMPLETE VIRTIO_SCSI_S_OK /* the spec names 0 both ways */

/* One command in flight: the chain, the SCSI command, and the iovecs of
 * its data buffers in guest RAM. Slots are reused (s->free). */
struct scsi_request {
	struct virtio_request vreq;
	struct scsi_cmd cmd;
	struct virtio_scsi *s;
	uint64_t tag;
	unsigned target, lun;
	uint32_t sense_room;       /* sense bytes the response has room for */
	uint64_t in_len, out_len;  /* data bytes the chain holds each way */
	struct scsi_request *next; /* free / done list */
	struct scsi_request *prev_inflight, *next_inflight;
	uint8_t cdb[VIRTIO_SCSI_CDB_MAX];
	uint16_t target_luns[SCSI_LUN_MAX + 1];
	struct iovec out[VIRTIO_REQUEST_MAX_BUFS], in[VIRTIO_REQUEST_MAX_BUFS];
};

/* ---- request slots and the in-flight list (dev->lock held) ---- */

static struct scsi_request *slot_get(struct virtio_scsi *s)
{
	struct scsi_request *r = s->free;

	if (r) {
		s->free = r->next;
		return r;
	}
	r = malloc(sizeof(*r));
	if (r)
		r->s = s;
	return r;
}

static void slot_put(struct virtio_scsi *s, struct scsi_request *r)
{
	r->next = s->free;
	s->free = r;
}

static void inflight_add(struct virtio_scsi *s, struct scsi_request *r)
{
	r->prev_inflight = NULL;
	r->next_inflight = s->inflight;
	if (s->inflight)
		s->inflight->prev_inflight = r;
	s->inflight = r;
}

static void inflight_del(struct virtio_scsi *s, struct scsi_request *r)
{
	if (r->prev_inflight)
		r->prev_inflight->next_inflight = r->next_inflight;
	else
		s->inflight = r->next_inflight;
	if (r->next_inflight)
		r->next_inflight->prev_inflight = r->prev_inflight;
}

/* ---- addressing ---- */

/* {1, target, 0x40 | lun >> 8, lun & 0xff, 0, 0, 0, 0}; the flat-space
 * bit is optional for LUNs below 256. false if not that form. */
static bool decode_lun(const uint8_t l[8], unsigned *target, unsigned *lun)
{
	if (l[0] != 1 || l[4] || l[5] || l[6] || l[7] || (l[2] & 0xc0) == 0x80 || (l[2] & 0xc0) == 0xc0)
		return false;
	*target = l[1];
	*lun = ((unsigned)(l[2] & 0x3f) << 8) | l[3];
	return true;
}

static bool target_exists(const struct virtio_scsi *s, unsigned target)
{
	for (unsigned i = 0; i < s->nr_luns; i++)
		if (s->luns[i].target == target)
			return true;
	return false;
}

static struct scsi_disk *find_disk(const struct virtio_scsi *s, unsigned target, unsigned lun)
{
	for (unsigned i = 0; i < s->nr_luns; i++)
		if (s->luns[i].target == target && s->luns[i].lun == lun)
			return s->luns[i].disk;
	return NULL;
}

/* The LUNs of target, ascending (for REPORT LUNS). */
static unsigned target_luns(const struct virtio_scsi *s, unsigned target, uint16_t *out)
{
	unsigned n = 0;

	for (unsigned lun = 0; lun <= SCSI_LUN_MAX; lun++)
		if (find_disk(s, target, lun))
			out[n++] = (uint16_t)lun;
	return n;
}

/* ---- responses ---- */

/* Write the response header and sense into the chain's in segments. */
static void write_response(struct scsi_request *r, uint8_t response)
{
	struct virtio_scsi_cmd_resp resp;
	const struct scsi_cmd *c = &r->cmd;
	uint32_t sense = c->sense_len < r->sense_room ? c->sense_len : r->sense_room;
	uint64_t resid = 0;

	if (r->in_len)
		resid = r->in_len - (c->in_written < r->in_len ? c->in_written : r->in_len);
	else if (c->status != SCSI_GOOD)
		resid = r->out_len;
	memset(&resp, 0, RESP_FIXED);
	resp.sense_len = htole32(sense);
	resp.resid = htole32(resid > UINT32_MAX ? UINT32_MAX : (uint32_t)resid);
	resp.status = c->status;
	resp.response = response;
	virtio_request_write(&r->vreq, 0, &resp, RESP_FIXED);
	if (sense)
		virtio_request_write(&r->vreq, RESP_FIXED, c->sense, sense);
}

static uint8_t response_of(const struct scsi_cmd *c)
{
	return c->overrun ? VIRTIO_SCSI_S_OVERRUN : VIRTIO_SCSI_S_OK;
}

/* The used length: the response and the data-in bytes produced. */
static uint32_t used_len(const struct scsi_request *r)
{
	uint64_t n = RESP_FIXED + (uint64_t)r->sense_room + (r->cmd.in_written < r->in_len ? r->cmd.in_written : r->in_len);
	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* A backend thread: the disk finished a command. Write the response now;
 * publish the used entry with the rest of the batch. */
static void cmd_done(struct scsi_cmd *cmd)
{
	struct scsi_request *r = cmd->opaque;
	struct virtio_scsi *s = r->s;

	write_response(r, response_of(cmd));
	pthread_mutex_lock(&s->done_lock);
	r->next = s->done_head;
	s->done_head = r;
	pthread_mutex_unlock(&s->done_lock);
}

/* End of a backend batch: every finished command goes back as used, and
 * each queue that got some is interrupted once. */
static void publish_done(void *opaque)
{
	struct virtio_scsi *s = opaque;
	struct virtio_device *dev = &s->vdev;
	bool touched[VIRTIO_MAX_QUEUES] = {false};

	pthread_mutex_lock(&s->done_lock);
	struct scsi_request *list = s->done_head;
	s->done_head = NULL;
	pthread_mutex_unlock(&s->done_lock);
	if (!list)
		return;

	pthread_mutex_lock(&dev->lock);
	while (list) {
		struct scsi_request *r = list;
		list = r->next;
		touched[r->vreq.q] = true;
		inflight_del(s, r);
		virtio_request_push_locked(&r->vreq, used_len(r));
		slot_put(s, r);
	}
	for (unsigned q = 0; q < dev->ops->nr_queues; q++)
		if (touched[q])
			virtio_device_notify_used(dev, q);
	pthread_mutex_unlock(&dev->lock);
}

/* ---- the request queues ---- */

/* The iovecs of the chain's buffers in one direction, minus the first
 * skip bytes (the request or response header). */
static int data_iov(const struct virtio_request *vreq, bool writable, uint64_t skip, struct iovec *iov,
		    uint64_t *total)
{
	int n = virtio_request_iov(vreq, writable, iov, VIRTIO_REQUEST_MAX_BUFS);
	unsigned out = 0;

	*total = 0;
	for (int i = 0; i < n; i++) {
		uint8_t *base = iov[i].iov_base;
		size_t len = iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		base += skip;
		len -= (size_t)skip;
		skip = 0;
		iov[out++] = (struct iovec){.iov_base = base, .iov_len = len};
		*total += len;
	}
	return n < 0 ? n : (int)out;
}

/* Finish a request here, on the reactor thread (dev->lock held). */
static void finish_now(struct virtio_scsi *s, struct scsi_request *r, uint8_t response)
{
	write_response(r, response);
	virtio_request_complete_locked(&r->vreq, used_len(r));
	slot_put(s, r);
}

static void serve_cmd(struct virtio_scsi *s, struct scsi_request *r)
{
	struct virtio_device *dev = &s->vdev;
	uint64_t out_bytes = virtio_request_readable(&r->vreq), in_bytes = virtio_request_writable(&r->vreq);
	uint32_t cdb_size = le32toh(s->config.cdb_size), sense_size = le32toh(s->config.sense_size);
	uint64_t req_len = REQ_FIXED + (uint64_t)cdb_size, resp_len = RESP_FIXED + (uint64_t)sense_size;
	struct virtio_scsi_cmd_req hdr;

	memset(&r->cmd, 0, offsetof(struct scsi_cmd, disk));
	r->in_len = r->out_len = 0;
	if (in_bytes < RESP_FIXED) {
		/* No room for a response: nothing can be answered. */
		log_debug(dev->name, "request without room for a response");
		virtio_request_complete_locked(&r->vreq, 0);
		slot_put(s, r);
		virtio_device_needs_reset(dev);
		return;
	}
	r->sense_room = in_bytes >= resp_len ? sense_size : (uint32_t)(in_bytes - RESP_FIXED);
	if (out_bytes < req_len || in_bytes < resp_len || virtio_request_read(&r->vreq, 0, &hdr, REQ_FIXED) != REQ_FIXED) {
		log_debug(dev->name, "request chain shorter than its headers (%u out, %u in)", (unsigned)out_bytes,
			  (unsigned)in_bytes);
		return finish_now(s, r, VIRTIO_SCSI_S_FAILURE);
	}
	r->tag = le64toh(hdr.tag);
	size_t cdb_len = cdb_size < sizeof(r->cdb) ? cdb_size : sizeof(r->cdb);
	memset(r->cdb, 0, sizeof(r->cdb));
	virtio_request_read(&r->vreq, REQ_FIXED, r->cdb, cdb_len);
	if (!decode_lun(hdr.lun, &r->target, &r->lun) || !target_exists(s, r->target))
		return finish_now(s, r, VIRTIO_SCSI_S_BAD_TARGET);

	int nout = data_iov(&r->vreq, false, req_len, r->out, &r->out_len);
	int nin = data_iov(&r->vreq, true, resp_len, r->in, &r->in_len);
	if (nout < 0 || nin < 0)
		return finish_now(s, r, VIRTIO_SCSI_S_FAILURE);
	r->cmd = (struct scsi_cmd){.cdb = r->cdb, .cdb_len = (unsigned)cdb_len, .out = r->out,
				   .out_cnt = (unsigned)nout, .in = r->in, .in_cnt = (unsigned)nin,
				   .luns = r->target_luns, .done = cmd_done, .opaque = r};
	r->cmd.nr_luns = target_luns(s, r->target, r->target_luns);

	struct scsi_disk *disk = r->lun <= SCSI_LUN_MAX ? find_disk(s, r->target, r->lun) : NULL;
	if (!disk) {
		scsi_no_lun_command(&r->cmd);
		return finish_now(s, r, VIRTIO_SCSI_S_OK);
	}
	inflight_add(s, r);
	if (!scsi_disk_command(disk, &r->cmd))
		return; /* cmd_done() and publish_done() finish it */
	inflight_del(s, r);
	finish_now(s, r, response_of(&r->cmd));
}

static bool serve_requests(struct virtio_scsi *s, unsigned q, unsigned budget)
{
	struct virtio_device *dev = &s->vdev;

	for (unsigned served = 0; served < budget; served++) {
		struct scsi_request *r = slot_get(s);
		if (!r)
			return true; /* out of memory for now: the reactor calls again */
		if (virtio_request_pop(dev, q, &r->vreq) != 1) {
			slot_put(s, r);
			return false;
		}
		serve_cmd(s, r);
	}
	return true;
}

/* ---- the control queue ---- */

/* Task management. Host file I/O cannot be taken back once submitted, so
 * a command still at the backend cannot be aborted: ABORT TASK says
 * FUNCTION REJECTED for it (Linux then resets the LUN) and FUNCTION
 * COMPLETE when the task is no longer there. A LUN or I_T nexus reset
 * puts the mode pages back; commands in flight finish on their own and
 * their late answers are ignored by the driver. */
static uint8_t task_management(struct virtio_scsi *s, const struct virtio_scsi_ctrl_tmf_req *req)
{
	unsigned target, lun;

	if (!decode_lun(req->lun, &target, &lun) || !target_exists(s, target))
		return VIRTIO_SCSI_S_BAD_TARGET;
	struct scsi_disk *disk = lun <= SCSI_LUN_MAX ? find_disk(s, target, lun) : NULL;
	switch (le32toh(req->subtype)) {
	case VIRTIO_SCSI_T_TMF_ABORT_TASK:
	case VIRTIO_SCSI_T_TMF_QUERY_TASK:
		for (struct scsi_request *r = s->inflight; r; r = r->next_inflight)
			if (r->target == target && r->lun == lun && r->tag == le64toh(req->tag))
				return le32toh(req->subtype) == VIRTIO_SCSI_T_TMF_QUERY_TASK ?
					       VIRTIO_SCSI_S_FUNCTION_SUCCEEDED :
					       VIRTIO_SCSI_S_FUNCTION_REJECTED;
		return TMF_FUNCTION_COMPLETE;
	case VIRTIO_SCSI_T_TMF_ABORT_TASK_SET:
	case VIRTIO_SCSI_T_TMF_CLEAR_TASK_SET:
	case VIRTIO_SCSI_T_TMF_QUERY_TASK_SET:
		for (struct scsi_request *r = s->inflight; r; r = r->next_inflight)
			if (r->target == target && r->lun == lun)
				return le32toh(req->subtype) == VIRTIO_SCSI_T_TMF_QUERY_TASK_SET ?
					       VIRTIO_SCSI_S_FUNCTION_SUCCEEDED :
					       VIRTIO_SCSI_S_FUNCTION_REJECTED;
		return TMF_FUNCTION_COMPLETE;
	case VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET:
		if (!disk)
			return VIRTIO_SCSI_S_INCORRECT_LUN;
		scsi_disk_reset(disk);
		return TMF_FUNCTION_COMPLETE;
	case VIRTIO_SCSI_T_TMF_I_T_NEXUS_RESET:
		for (unsigned i = 0; i < s->nr_luns; i++)
			if (s->luns[i].target == target)
				scsi_disk_reset(s->luns[i].disk);
		return TMF_FUNCTION_COMPLETE;
	case VIRTIO_SCSI_T_TMF_CLEAR_ACA: /* we never set ACA (NACA is refused) */
		return TMF_FUNCTION_COMPLETE;
	default:
		return VIRTIO_SCSI_S_FUNCTION_REJECTED;
	}
}

/* One control request: returns the used length. */
static uint32_t serve_control(struct virtio_scsi *s, const struct virtio_request *vreq)
{
	uint64_t out_bytes = virtio_request_readable(vreq), in_bytes = virtio_request_writable(vreq);
	uint32_t type;

	if (virtio_request_read(vreq, 0, &type, sizeof(type)) != sizeof(type))
		return 0;
	switch (le32toh(type)) {
	case VIRTIO_SCSI_T_TMF: {
		struct virtio_scsi_ctrl_tmf_req req;
		uint8_t response = VIRTIO_SCSI_S_FAILURE;
		if (in_bytes < 1)
			return 0;
		if (out_bytes >= sizeof(req) && virtio_request_read(vreq, 0, &req, sizeof(req)) == sizeof(req))
			response = task_management(s, &req);
		virtio_request_write(vreq, 0, &response, 1);
		return 1;
	}
	case VIRTIO_SCSI_T_AN_QUERY:
	case VIRTIO_SCSI_T_AN_SUBSCRIBE: {
		/* No asynchronous notifications (media change, ...): none supported. */
		struct virtio_scsi_ctrl_an_resp resp = {.event_actual = 0, .response = VIRTIO_SCSI_S_OK};
		if (out_bytes < sizeof(struct virtio_scsi_ctrl_an_req))
			resp.response = VIRTIO_SCSI_S_FAILURE;
		if (in_bytes < sizeof(resp))
			return 0;
		virtio_request_write(vreq, 0, &resp, sizeof(resp));
		return sizeof(resp);
	}
	default:
		log_debug(s->vdev.name, "unknown control request type %u", le32toh(type));
		return 0;
	}
}

/* ---- the event queue ---- */

/* The driver posts buffers on the event queue; they stay in its ring
 * until an event needs one (nothing is held in flight, so a reset never
 * waits for events). */
void virtio_scsi_lun_event(struct virtio_scsi *s, unsigned target, unsigned lun, bool removed)
{
	struct virtio_device *dev = &s->vdev;
	struct virtio_request vreq;
	struct virtio_scsi_event ev = {0};

	if (!virtio_device_queue_live(dev, 1) || virtio_request_pop(dev, 1, &vreq) != 1) {
		s->events_missed = true; /* the driver rescans everything when it learns */
		return;
	}
	ev.event = htole32(VIRTIO_SCSI_T_TRANSPORT_RESET | (s->events_missed ? VIRTIO_SCSI_T_EVENTS_MISSED : 0));
	ev.lun[0] = 1;
	ev.lun[1] = (uint8_t)target;
	ev.lun[2] = (uint8_t)(0x40 | lun >> 8);
	ev.lun[3] = (uint8_t)lun;
	ev.reason = htole32(removed ? VIRTIO_SCSI_EVT_RESET_REMOVED : VIRTIO_SCSI_EVT_RESET_RESCAN);
	if (virtio_request_writable(&vreq) < sizeof(ev)) {
		virtio_request_complete_locked(&vreq, 0);
		virtio_device_needs_reset(dev);
		return;
	}
	virtio_request_write(&vreq, 0, &ev, sizeof(ev));
	s->events_missed = false;
	virtio_request_complete_locked(&vreq, sizeof(ev));
}

static bool scsi_queue_notify(struct virtio_device *dev, unsigned q, unsigned budget)
{
	struct virtio_scsi *s = dev->priv;

	if (q >= VIRTIO_SCSI_FIRST_REQUEST_QUEUE)
		return serve_requests(s, q, budget);
	if (q == 1) {
		/* New event buffers: an event that found none goes out now. */
		if (s->events_missed)
			virtio_scsi_lun_event(s, 0, 0, false);
		return false;
	}
	for (unsigned served = 0; served < budget; served++) {
		struct virtio_request vreq;
		if (virtio_request_pop(dev, 0, &vreq) != 1)
			return false;
		virtio_request_complete_locked(&vreq, serve_control(s, &vreq));
	}
	return true;
}

/* ---- config space ---- */

/* No device features. HOTPLUG and CHANGE promise events that nothing in
 * skiff sends (disks are fixed at start and so are their parameters);
 * offering them would have the driver wait for what never comes. Offer
 * them again once something calls virtio_scsi_lun_event() for real. */
static uint64_t scsi_features(struct virtio_device *dev)
{
	(void)dev;
	return 0;
}

static void default_sizes(struct virtio_scsi *s)
{
	s->config.cdb_size = htole32(VIRTIO_SCSI_CDB_DEFAULT_SIZE);
	s->config.sense_size = htole32(VIRTIO_SCSI_SENSE_DEFAULT_SIZE);
}

static void scsi_config_read(struct virtio_device *dev, size_t offset, void *data, size_t len)
{
	struct virtio_scsi *s = dev->priv;
	memcpy(data, (const uint8_t *)&s->config + offset, len);
}

/* The driver may set sense_size and cdb_size; the rest is read-only. */
static void scsi_config_write(struct virtio_device *dev, size_t offset, const void *data, size_t len)
{
	struct virtio_scsi *s = dev->priv;
	static const size_t writable[] = {offsetof(struct virtio_scsi_config, sense_size),
					  offsetof(struct virtio_scsi_config, cdb_size)};

	for (unsigned i = 0; i < 2; i++)
		if (offset >= writable[i] && offset + len <= writable[i] + 4)
			memcpy((uint8_t *)&s->config + offset, data, len);
}

static void scsi_reset(struct virtio_device *dev)
{
	struct virtio_scsi *s = dev->priv;

	/* Commands at the backend finish on their own (file I/O ends); the
	 * reset waits for them. */
	default_sizes(s);
	s->events_missed = false;
	for (unsigned i = 0; i < s->nr_luns; i++)
		scsi_disk_reset(s->luns[i].disk);
}

/* The request queues, not control (answered at once) or event (buffers
 * the driver leaves there for events that may never come). */
static bool scsi_queue_polled(const struct virtio_device *dev, unsigned q)
{
	(void)dev;
	return q >= VIRTIO_SCSI_FIRST_REQUEST_QUEUE;
}

static const struct virtio_device_ops scsi_ops_template = {
	.type = "scsi",
	.device_id = VIRTIO_ID_SCSI,
	.queue_max_size = VIRTIO_SCSI_QUEUE_SIZE,
	.config_size = sizeof(struct virtio_scsi_config),
	.features = scsi_features,
	.config_read = scsi_config_read,
	.config_write = scsi_config_write,
	.queue_notify = scsi_queue_notify,
	.queue_polled = scsi_queue_polled,
	.reset = scsi_reset,
};

static void build_config(struct virtio_scsi *s)
{
	struct virtio_scsi_config *c = &s->config;

	memset(c, 0, sizeof(*c));
	c->num_queues = htole32(s->queues);
	c->seg_max = htole32(VIRTIO_SCSI_SEG_MAX);
	c->max_sectors = htole32(0xffff);
	c->cmd_per_lun = htole32(VIRTIO_SCSI_QUEUE_SIZE / 2);
	c->event_info_size = htole32(sizeof(struct virtio_scsi_event));
	default_sizes(s);
	c->max_channel = 0;
	c->max_target = htole16((uint16_t)s->max_target);
	c->max_lun = htole32(SCSI_LUN_MAX);
}

int virtio_scsi_init(struct virtio_scsi *s, const struct virtio_scsi_config_opts *opts, const char *name,
		     const struct guest_mem *mem, enum blk_engine engine, struct reactor *reactor, char *err,
		     size_t errlen)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->done_lock, NULL);
	s->queues = opts->queues ? opts->queues : 1;
	for (unsigned i = 0; i < opts->nr_disks; i++) {
		const struct virtio_scsi_disk_opts *o = &opts->disks[i];
		struct scsi_disk_options dopt = {.path = o->path, .serial = o->serial, .readonly = o->readonly,
						 .snapshot = o->snapshot,
						 .discard = o->discard, .cache = o->cache, .engine = engine,
						 .reactor = reactor,
						 .target = o->target, .lun = o->lun, .batch_end = publish_done,
						 .batch_opaque = s};
		char why[256] = "";
		int ret;

		if (find_disk(s, o->target, o->lun)) {
			snprintf(err, errlen, "two disks at target %u LUN %u", o->target, o->lun);
			return -EINVAL;
		}
		if ((ret = scsi_disk_open(&s->luns[s->nr_luns].disk, &dopt, why, sizeof(why))) < 0) {
			snprintf(err, errlen, "%s", why);
			return ret;
		}
		s->luns[s->nr_luns].target = o->target;
		s->luns[s->nr_luns].lun = o->lun;
		s->nr_luns++;
		if (o->target > s->max_target)
			s->max_target = o->target;
		log_debug(name, "target %u LUN %u: %s, %llu blocks of %u bytes", o->target, o->lun, o->path,
			  (unsigned long long)scsi_disk_blocks(s->luns[s->nr_luns - 1].disk),
			  scsi_disk_block_size(s->luns[s->nr_luns - 1].disk));
	}
	s->ops = scsi_ops_template;
	s->ops.nr_queues = VIRTIO_SCSI_FIRST_REQUEST_QUEUE + s->queues;
	build_config(s);
	virtio_device_init(&s->vdev, &s->ops, s, name, mem);
	for (unsigned q = 0; q < s->ops.nr_queues; q++)
		virtio_device_set_max_chain(&s->vdev, q, VIRTIO_SCSI_SEG_MAX + 2);
	return 0;
}

void virtio_scsi_destroy(struct virtio_scsi *s)
{
	for (unsigned i = 0; i < s->nr_luns; i++)
		scsi_disk_close(s->luns[i].disk); /* waits for in-flight I/O */
	s->nr_luns = 0;
	publish_done(s);
	while (s->free) {
		struct scsi_request *r = s->free;
		s->free = r->next;
		free(r);
	}
	pthread_mutex_destroy(&s->done_lock);
}
