package store

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
)

// bbolt's file format (version 2), as far as preflight reads it: a page
// starts with a 16-byte header (id uint64, flags uint16, count uint16,
// overflow uint32); pages 0 and 1 hold a meta record after it. bbolt
// writes in the host's byte order; on a big-endian host no meta record
// validates here and preflight leaves everything to bbolt.
const (
	pageHeader       = 16
	metaMagic        = 0xED0CDAED
	metaVersion      = 2
	freelistFlag     = 0x10
	noFreelist       = ^uint64(0)
	metaChecksumFrom = 56 // the checksum covers the meta record up to here
)

type metaRecord struct {
	pageSize uint64
	freelist uint64
	root     uint64 // the root bucket's page
	pgid     uint64 // high water mark: pages in use
	txid     uint64
}

// readMeta decodes the meta record at off; false when it is not a valid
// one (bbolt then uses the other).
func readMeta(data []byte, off uint64) (metaRecord, bool) {
	if off+pageHeader+64 > uint64(len(data)) {
		return metaRecord{}, false
	}
	m := data[off+pageHeader : off+pageHeader+64]
	h := fnv.New64a()
	h.Write(m[:metaChecksumFrom])
	if binary.LittleEndian.Uint32(m[0:]) != metaMagic || binary.LittleEndian.Uint32(m[4:]) != metaVersion ||
		binary.LittleEndian.Uint64(m[metaChecksumFrom:]) != h.Sum64() {
		return metaRecord{}, false
	}
	return metaRecord{
		pageSize: uint64(binary.LittleEndian.Uint32(m[8:])),
		root:     binary.LittleEndian.Uint64(m[16:]),
		freelist: binary.LittleEndian.Uint64(m[32:]),
		pgid:     binary.LittleEndian.Uint64(m[40:]),
		txid:     binary.LittleEndian.Uint64(m[48:]),
	}, true
}

// preflight reads the structure of the file before bbolt does: the meta
// page, the freelist page and the B+tree of every bucket (page ids, types,
// element bounds). bbolt trusts them: a bad freelist panics inside Open,
// where the panic strands the file's lock in this process (the mapping it
// leaves holds the file open); a branch page that points back at itself
// or an ancestor sends its cursor down forever, allocating as it goes, a
// hang no timeout could stop. It reads each page in use once, under a
// shared lock so that no writer moves pages meanwhile; a file a daemon
// holds is left to bbolt, which reports the lock. What preflight cannot
// judge (no valid meta page) is left to bbolt too, whose checks return
// errors.
func preflight(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // bbolt says why
	}
	defer f.Close()
	if !lockShared(f) {
		return nil
	}
	data, unmap, err := mapFile(f)
	if err != nil || len(data) == 0 {
		return nil
	}
	defer unmap()
	m, ok := readMeta(data, 0)
	second := uint64(os.Getpagesize()) // where bbolt looks when page 0 is bad
	if ok {
		second = m.pageSize
	}
	if m1, ok1 := readMeta(data, second); ok1 && (!ok || m1.txid > m.txid) {
		m, ok = m1, true
	}
	if !ok || m.pageSize < 512 || m.pageSize > 1<<20 {
		return nil
	}
	if m.pgid > uint64(len(data))/m.pageSize {
		return damaged(path, fmt.Sprintf("the file is %d bytes long but holds %d pages of %d bytes: it was truncated", len(data), m.pgid, m.pageSize))
	}
	w := &walker{data: data, ps: m.pageSize, hwm: m.pgid, seen: make([]bool, m.pgid)}
	if m.freelist != noFreelist {
		if err := w.freelist(m.freelist); err != nil {
			return damaged(path, err)
		}
	}
	if err := w.tree(m.root, 0); err != nil {
		return damaged(path, err)
	}
	return nil
}

const (
	branchFlag     = 0x01
	leafFlag       = 0x02
	bucketElemFlag = 0x01 // a leaf element whose value is a bucket
	elemSize       = 16   // branch and leaf elements alike
	maxDepth       = 64   // far beyond any real tree (and nesting of buckets)
)

type walker struct {
	data []byte // the whole file
	ps   uint64
	hwm  uint64 // pages in use
	seen []bool
}

// read returns page id with its overflow pages, checking that it is page
// id, in the file, and referenced once.
func (w *walker) read(id uint64) (flags uint16, count uint16, b []byte, err error) {
	if id < 2 || id >= w.hwm {
		return 0, 0, nil, fmt.Errorf("page %d is referenced but the file has pages 2 to %d", id, w.hwm-1)
	}
	if w.seen[id] {
		return 0, 0, nil, fmt.Errorf("page %d is referenced twice (the tree loops)", id)
	}
	hdr := w.data[id*w.ps:]
	self, flags, count := binary.LittleEndian.Uint64(hdr), binary.LittleEndian.Uint16(hdr[8:]), binary.LittleEndian.Uint16(hdr[10:])
	overflow := uint64(binary.LittleEndian.Uint32(hdr[12:]))
	if self != id {
		return 0, 0, nil, fmt.Errorf("page %d identifies itself as page %d", id, self)
	}
	if overflow >= w.hwm-id {
		return 0, 0, nil, fmt.Errorf("page %d runs %d pages past the file's end", id, id+overflow-w.hwm+1)
	}
	for i := id; i <= id+overflow; i++ {
		w.seen[i] = true
	}
	return flags, count, w.data[id*w.ps : (id+overflow+1)*w.ps], nil
}

func (w *walker) freelist(id uint64) error {
	flags, count, b, err := w.read(id)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if flags != freelistFlag {
		return fmt.Errorf("page %d should be the freelist but has type %#x", id, flags)
	}
	n, first := uint64(count), uint64(0)
	if count == 0xFFFF { // the real count is the first element
		if len(b) < pageHeader+8 {
			return fmt.Errorf("freelist page %d is too short", id)
		}
		n, first = binary.LittleEndian.Uint64(b[pageHeader:]), 1
	}
	if n > uint64(len(b)-pageHeader)/8-first {
		return fmt.Errorf("freelist page %d: %d free pages do not fit in it", id, n)
	}
	for i := range n {
		if p := binary.LittleEndian.Uint64(b[pageHeader+(first+i)*8:]); p < 2 || p >= w.hwm {
			return fmt.Errorf("freelist page %d lists page %d, outside the file's %d pages", id, p, w.hwm)
		}
	}
	return nil
}

// tree walks the B+tree rooted at page id, and the trees of the buckets
// its leaves hold.
func (w *walker) tree(id uint64, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("page %d is %d levels deep (the tree loops)", id, depth)
	}
	flags, count, b, err := w.read(id)
	if err != nil {
		return err
	}
	if flags != branchFlag && flags != leafFlag {
		return fmt.Errorf("page %d has type %#x where a branch or leaf page belongs", id, flags)
	}
	if uint64(pageHeader)+uint64(count)*elemSize > uint64(len(b)) {
		return fmt.Errorf("page %d: %d elements do not fit in it", id, count)
	}
	for i := range uint64(count) {
		at := pageHeader + i*elemSize
		e := b[at : at+elemSize]
		switch flags {
		case branchFlag:
			pos, ksize := uint64(binary.LittleEndian.Uint32(e)), uint64(binary.LittleEndian.Uint32(e[4:]))
			if at+pos+ksize > uint64(len(b)) {
				return fmt.Errorf("branch page %d: key %d lies outside the page", id, i)
			}
			if err := w.tree(binary.LittleEndian.Uint64(e[8:]), depth+1); err != nil {
				return err
			}
		case leafFlag:
			ef, pos := binary.LittleEndian.Uint32(e), uint64(binary.LittleEndian.Uint32(e[4:]))
			ksize, vsize := uint64(binary.LittleEndian.Uint32(e[8:])), uint64(binary.LittleEndian.Uint32(e[12:]))
			end := at + pos + ksize + vsize
			if end > uint64(len(b)) || end < at {
				return fmt.Errorf("leaf page %d: element %d lies outside the page", id, i)
			}
			if ef&bucketElemFlag == 0 {
				continue
			}
			if vsize < 16 {
				return fmt.Errorf("leaf page %d: bucket %d has a %d-byte header", id, i, vsize)
			}
			// An inline bucket (root 0) holds its page in the value and
			// never a bucket of its own: nothing there points elsewhere.
			if root := binary.LittleEndian.Uint64(b[at+pos+ksize:]); root != 0 {
				if err := w.tree(root, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
