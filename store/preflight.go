package store

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's file format (version 2), as far as preflight reads it: a page
// starts with a 16-byte header (id uint64, flags uint16, count uint16,
// overflow uint32); pages 0 and 1 hold a meta record after it.
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
	pgid     uint64 // high water mark: pages in use
	txid     uint64
}

// readMeta decodes the meta record at off; false when it is not a valid
// one (bbolt then uses the other).
func readMeta(f io.ReaderAt, off int64) (metaRecord, bool) {
	b := make([]byte, pageHeader+64)
	if _, err := f.ReadAt(b, off); err != nil {
		return metaRecord{}, false
	}
	m := b[pageHeader:]
	h := fnv.New64a()
	h.Write(m[:metaChecksumFrom])
	if binary.LittleEndian.Uint32(m[0:]) != metaMagic || binary.LittleEndian.Uint32(m[4:]) != metaVersion ||
		binary.LittleEndian.Uint64(m[metaChecksumFrom:]) != h.Sum64() {
		return metaRecord{}, false
	}
	return metaRecord{
		pageSize: uint64(binary.LittleEndian.Uint32(m[8:])),
		freelist: binary.LittleEndian.Uint64(m[32:]),
		pgid:     binary.LittleEndian.Uint64(m[40:]),
		txid:     binary.LittleEndian.Uint64(m[48:]),
	}, true
}

// preflight checks the one page bbolt reads inside a writable Open, the
// freelist, before bbolt does. bbolt panics on a bad one, and that panic
// strands the file's lock in this process (the mapping it leaves holds the
// file open) however it is recovered. Anything preflight cannot judge is
// left to bbolt, whose other checks return errors.
func preflight(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // bbolt says why
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil
	}
	m, ok := readMeta(f, 0)
	second := int64(os.Getpagesize()) // where bbolt looks when page 0 is bad
	if ok {
		second = int64(m.pageSize)
	}
	if m1, ok1 := readMeta(f, second); ok1 && (!ok || m1.txid > m.txid) {
		m, ok = m1, true
	}
	if !ok || m.freelist == noFreelist || m.pageSize == 0 {
		return nil
	}
	if m.pgid > uint64(info.Size())/m.pageSize {
		return damaged(path, fmt.Sprintf("the file is %d bytes long but holds %d pages of %d bytes: it was truncated", info.Size(), m.pgid, m.pageSize))
	}
	if m.freelist < 2 || m.freelist >= m.pgid {
		return damaged(path, fmt.Sprintf("the freelist page %d is outside the file's %d pages", m.freelist, m.pgid))
	}
	off := int64(m.freelist * m.pageSize)
	hdr := make([]byte, pageHeader+8)
	if _, err := f.ReadAt(hdr, off); err != nil {
		return damaged(path, fmt.Sprintf("freelist page %d: %v", m.freelist, err))
	}
	id, flags := binary.LittleEndian.Uint64(hdr), binary.LittleEndian.Uint16(hdr[8:])
	count, overflow := uint64(binary.LittleEndian.Uint16(hdr[10:])), uint64(binary.LittleEndian.Uint32(hdr[12:]))
	if id != m.freelist || flags != freelistFlag {
		return damaged(path, fmt.Sprintf("page %d should be the freelist but is not (id %d, flags %#x)", m.freelist, id, flags))
	}
	first := int64(0)
	if count == 0xFFFF { // the real count is the first element
		count, first = binary.LittleEndian.Uint64(hdr[pageHeader:]), 1
	}
	if m.freelist+overflow >= m.pgid || count > ((overflow+1)*m.pageSize-pageHeader)/8 {
		return damaged(path, fmt.Sprintf("freelist page %d: %d free pages do not fit in its %d pages", m.freelist, count, overflow+1))
	}
	ids := make([]byte, count*8)
	if _, err := f.ReadAt(ids, off+pageHeader+first*8); err != nil {
		return damaged(path, fmt.Sprintf("freelist page %d: %v", m.freelist, err))
	}
	for i := 0; i < len(ids); i += 8 {
		if p := binary.LittleEndian.Uint64(ids[i:]); p < 2 || p >= m.pgid {
			return damaged(path, fmt.Sprintf("freelist page %d lists page %d, outside the file's %d pages", m.freelist, p, m.pgid))
		}
	}
	return nil
}
