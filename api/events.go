package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// The event stream (GET /api/v1/events, docs/events.md) tells the
// dashboard, and any other tool, what changed in the published status
// without making it poll every endpoint. It reads the same snapshot as the
// rest of the API, once a second per client, so a slow or stuck client
// costs the loop nothing.

const (
	defaultEventPoll = time.Second
	defaultHeartbeat = 15 * time.Second
	// eventRetry is what the stream tells clients to wait before
	// reconnecting: long enough not to hammer a restarting daemon.
	eventRetry = 3 * time.Second
	// eventWriteTimeout bounds one write, replacing the server's
	// WriteTimeout, which would otherwise cut every stream after 30 s.
	eventWriteTimeout = 10 * time.Second
)

// streamState is what one client has been told, to send only changes.
type streamState struct {
	seqs   map[string][]byte
	groups map[string][]byte
	halt   []byte
	synced bool
}

// events streams text/event-stream: the whole state when a client
// connects, then every change. Each reconnect starts with the whole state
// again, so no Last-Event-ID bookkeeping is needed to miss nothing.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	// Reverse proxies such as nginx buffer responses unless told not to.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	var buf bytes.Buffer
	write := func() bool {
		if buf.Len() == 0 {
			return true
		}
		_ = rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		if err == nil {
			err = rc.Flush()
		}
		return err == nil
	}
	fmt.Fprintf(&buf, "retry: %d\n\n", eventRetry.Milliseconds())
	st := &streamState{seqs: map[string][]byte{}, groups: map[string][]byte{}}
	s.diff(&buf, st)
	if !write() {
		return
	}
	poll := time.NewTicker(s.cfg.EventPoll)
	defer poll.Stop()
	beat := time.NewTicker(s.cfg.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		case <-poll.C:
			s.diff(&buf, st)
		case <-beat.C:
			// A comment line: keeps proxies from closing an idle stream
			// and lets the client notice a dead connection.
			buf.WriteString(": keep-alive\n\n")
		}
		if !write() {
			return
		}
	}
}

// diff writes one event per change since st and records it in st.
func (s *Server) diff(buf *bytes.Buffer, st *streamState) {
	seqs := s.cfg.Reconciler.Sequences()
	sort.Slice(seqs, func(i, j int) bool { return seqs[i].Name < seqs[j].Name })
	seen := make(map[string]bool, len(seqs))
	for _, q := range seqs {
		seen[q.Name] = true
		b, _ := json.Marshal(q)
		if old, ok := st.seqs[q.Name]; !ok || !bytes.Equal(old, b) {
			writeEvent(buf, "sequence", b)
			st.seqs[q.Name] = b
		}
	}
	for _, name := range sortedKeys(st.seqs) {
		if !seen[name] {
			b, _ := json.Marshal(map[string]string{"name": name})
			writeEvent(buf, "sequence-deleted", b)
			delete(st.seqs, name)
		}
	}
	for _, g := range s.cfg.Reconciler.Groups() {
		key := strconv.Itoa(int(g.CampaignDBID)) + "/" + strconv.Itoa(int(g.GroupDBID))
		b, _ := json.Marshal(g)
		if old, ok := st.groups[key]; !ok || !bytes.Equal(old, b) {
			writeEvent(buf, "campaign-group", b)
			st.groups[key] = b
		}
	}
	if b, _ := json.Marshal(s.cfg.Reconciler.HaltState()); !bytes.Equal(st.halt, b) {
		writeEvent(buf, "halt", b)
		st.halt = b
	}
	if !st.synced {
		// The end of the first burst: a client can draw once, not once
		// per sequence.
		b, _ := json.Marshal(map[string]int{"sequences": len(seqs)})
		writeEvent(buf, "synced", b)
		st.synced = true
	}
}

// writeEvent writes one event; data is compact JSON, so one line.
func writeEvent(buf *bytes.Buffer, name string, data []byte) {
	buf.WriteString("event: ")
	buf.WriteString(name)
	buf.WriteString("\ndata: ")
	buf.Write(data)
	buf.WriteString("\n\n")
}

func sortedKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
