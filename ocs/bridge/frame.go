// Package bridge is the TKVList bridge link (ocs/JSON-FORMAT.md): CommDN user data
// as length-prefixed JSON frames over any stream (TCP to a Platform-SDK
// sidecar, or net.Pipe to the in-process simulator). Each frame is a 4-byte
// big-endian length and that many bytes of the ocs JSON encoding, at most
// ocs.MaxFrameSize. Either side may send a frame at any time; answers echo
// GSW_CM_AttrReferenceID.
package bridge

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/sequencer-dev/sequencer/ocs"
)

// ErrFrame is wrapped by every framing error; the connection that sent a
// bad frame cannot be trusted to be in sync, so it is closed.
var ErrFrame = errors.New("bad frame")

// WriteFrame writes l as one frame.
func WriteFrame(w io.Writer, l ocs.TKVList) error {
	buf, err := appendFrame(nil, l)
	if err != nil {
		return err
	}
	_, err = w.Write(buf)
	return err
}

// appendFrame appends l's frame (length prefix and JSON body) to buf.
// The body is encoded in place, after room for its length: no copy of it.
func appendFrame(buf []byte, l ocs.TKVList) ([]byte, error) {
	start := len(buf)
	out, err := ocs.AppendEncoded(append(buf, 0, 0, 0, 0), l)
	if err != nil {
		return buf, err
	}
	n := len(out) - start - 4
	if n > ocs.MaxFrameSize {
		return buf, fmt.Errorf("%w: %d bytes, max %d", ErrFrame, n, ocs.MaxFrameSize)
	}
	binary.BigEndian.PutUint32(out[start:], uint32(n))
	return out, nil
}

// ReadFrame reads one frame. io.EOF means a clean close between frames.
func ReadFrame(r *bufio.Reader) (ocs.TKVList, error) { return readFrame(r, nil) }

// readFrame is ReadFrame reading the body into *body when it is not nil,
// grown as needed and kept for the next frame: the decoded list copies
// what it keeps.
func readFrame(r *bufio.Reader, body *[]byte) (ocs.TKVList, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: truncated length", ErrFrame)
		}
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > ocs.MaxFrameSize {
		return nil, fmt.Errorf("%w: length %d over the %d-byte limit", ErrFrame, n, ocs.MaxFrameSize)
	}
	var buf []byte
	if body == nil || cap(*body) < int(n) {
		buf = make([]byte, n)
		if body != nil && n <= maxKeptBody {
			*body = buf
		}
	} else {
		buf = (*body)[:n]
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: truncated body: %v", ErrFrame, err)
	}
	l, err := ocs.DecodeJSON(buf)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFrame, err)
	}
	return l, nil
}

// Conn frames one stream: reads from one goroutine, writes from many.
type Conn struct {
	rw  io.ReadWriteCloser
	r   *bufio.Reader
	wmu sync.Mutex
	// corked: Send only appends to pend, which Uncork writes at once (a
	// server answering a backlog of requests writes once per backlog).
	corked bool
	pend   []byte
	// Under wmu: the list and buffer Send encodes each message into.
	scratch ocs.TKVList
	wbuf    []byte
	// Receive's frame body, reused (the receiving goroutine's own).
	body []byte
}

// maxKeptBody is the largest buffer a Conn keeps between frames: a rare
// huge frame (a record list) is not held for the life of the connection.
const maxKeptBody = 64 << 10

// NewConn wraps a stream.
func NewConn(rw io.ReadWriteCloser) *Conn {
	return &Conn{rw: rw, r: bufio.NewReaderSize(rw, 16<<10)}
}

// Send writes one message. It encodes into the Conn's own list and
// buffer (or straight into what Cork holds): a server answers every
// request and sends every event through it.
func (c *Conn) Send(m ocs.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.scratch = m.AppendEncode(c.scratch[:0])
	defer clear(c.scratch) // keeps no message's strings alive
	var err error
	if c.corked {
		c.pend, err = appendFrame(c.pend, c.scratch)
		return err
	}
	buf, err := appendFrame(c.wbuf[:0], c.scratch)
	if err != nil {
		return err
	}
	if cap(buf) <= maxKeptBody {
		c.wbuf = buf
	}
	_, err = c.rw.Write(buf)
	return err
}

func (c *Conn) write(buf []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.corked {
		c.pend = append(c.pend, buf...)
		return nil
	}
	_, err := c.rw.Write(buf)
	return err
}

// Cork holds what Send writes until Uncork, which writes it all at once.
func (c *Conn) Cork() {
	c.wmu.Lock()
	c.corked = true
	c.wmu.Unlock()
}

// Uncork writes what was held since Cork and lets Send write again.
func (c *Conn) Uncork() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.corked = false
	if len(c.pend) == 0 {
		return nil
	}
	_, err := c.rw.Write(c.pend)
	if cap(c.pend) > 1<<20 {
		c.pend = nil
	} else {
		c.pend = c.pend[:0]
	}
	return err
}

// FrameBuffered reports whether a whole frame is already read ahead, so
// that the next Receive cannot block. Only the receiving goroutine may
// call it.
func (c *Conn) FrameBuffered() bool {
	n := c.r.Buffered()
	if n < 4 {
		return false
	}
	hdr, err := c.r.Peek(4)
	if err != nil {
		return false
	}
	return n >= 4+int(binary.BigEndian.Uint32(hdr))
}

// SendAll writes messages in order, many to a write: a burst of requests
// costs a few system calls, not one each. They leave in writes of about
// sendChunk bytes, so a storm's first requests are on the wire while the
// later ones are encoded, and the buffer never grows to the size of the
// whole storm. On an error (a write, or a message that cannot be
// encoded) the ones before it may have left.
func (c *Conn) SendAll(ms []ocs.Message) error {
	buf := make([]byte, 0, min(len(ms)*512, sendChunk+4096))
	var l ocs.TKVList
	for _, m := range ms {
		var err error
		l = m.AppendEncode(l[:0])
		if buf, err = appendFrame(buf, l); err != nil {
			return err
		}
		if len(buf) >= sendChunk {
			if err := c.write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) == 0 {
		return nil
	}
	return c.write(buf)
}

// sendChunk is the size SendAll writes at a time.
const sendChunk = 64 << 10

// Receive reads one message.
func (c *Conn) Receive() (ocs.Message, error) {
	l, err := readFrame(c.r, &c.body)
	if err != nil {
		return ocs.Message{}, err
	}
	m, err := ocs.DecodeMessage(l)
	if err != nil {
		return ocs.Message{}, fmt.Errorf("%w: %w", ErrFrame, err)
	}
	return m, nil
}

// Close closes the stream.
func (c *Conn) Close() error { return c.rw.Close() }
