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
	body, err := ocs.EncodeJSON(l)
	if err != nil {
		return err
	}
	if len(body) > ocs.MaxFrameSize {
		return fmt.Errorf("%w: %d bytes, max %d", ErrFrame, len(body), ocs.MaxFrameSize)
	}
	buf := make([]byte, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	copy(buf[4:], body)
	_, err = w.Write(buf)
	return err
}

// ReadFrame reads one frame. io.EOF means a clean close between frames.
func ReadFrame(r *bufio.Reader) (ocs.TKVList, error) {
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
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("%w: truncated body: %v", ErrFrame, err)
	}
	l, err := ocs.DecodeJSON(body)
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
}

// NewConn wraps a stream.
func NewConn(rw io.ReadWriteCloser) *Conn {
	return &Conn{rw: rw, r: bufio.NewReaderSize(rw, 16<<10)}
}

// Send writes one message.
func (c *Conn) Send(m ocs.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return WriteFrame(c.rw, m.Encode())
}

// Receive reads one message.
func (c *Conn) Receive() (ocs.Message, error) {
	l, err := ReadFrame(c.r)
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
